"""Mailgun's API as a transport: each message goes as the raw bytes digest built
(``messages.mime``), one recipient a call, with Mailgun's tracking off so not a byte of
it changes. The answer goes through `replies.api_verdict`, the SMTP table; the message
id Mailgun returns goes to the ledger. The key is DIGEST_MAILGUN_API_KEY.

A message counts as sent only with Mailgun's answer: JSON with the message's id. Any
other answer (an HTML page, JSON of another shape: `[mailgun] base_url` pointing at a web
site, not the API) leaves the message open and stops the run, naming the setting.
"""

from __future__ import annotations

from typing import Any

import httpx

from digest.config import Config
from digest.mail.pool import Connection, ConnectionFactory, SendFailure
from digest.mail.replies import api_verdict, lost
from digest.models import DeliveryStatus

_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class MailgunConnection:
    """One HTTP/1.1 keep-alive connection to Mailgun's API."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: bool = False
    ) -> str | None:
        """One messages.mime call; Mailgun's message id, or SendFailure."""
        form = {"to": recipient, "o:tracking": "no"}
        files = {"message": ("message.eml", data, "message/rfc822")}
        try:
            answer = await self.client.post(self.url, data=form, files=files)
        except httpx.HTTPError as e:
            raise SendFailure.of(lost(f"Mailgun could not be reached: {e!r}")) from e
        body = _json(answer)
        if body is None and answer.status_code < 500:  # a 5xx page may be a proxy's, for now
            raise self._wrong_endpoint(answer, "a page that is not Mailgun's JSON")
        if answer.status_code != 200:
            words = str((body or {}).get("message", "")) or " ".join(answer.text[:300].split())
            raise SendFailure.of(api_verdict("Mailgun", answer.status_code, "", words, recipient))
        message_id = (body or {}).get("id")
        if not isinstance(message_id, str) or not message_id.strip("<> "):
            raise self._wrong_endpoint(answer, "JSON without Mailgun's message id")
        return message_id.strip("<> ")

    def _wrong_endpoint(self, answer: httpx.Response, what: str) -> SendFailure:
        kind = answer.headers.get("content-type", "no content type").split(";")[0]
        return SendFailure(
            DeliveryStatus.DEFERRED,
            f"{self.url} answered HTTP {answer.status_code} with {what} ({kind}): it is "
            "not Mailgun's API, and nothing sent through it counts; check [mailgun] "
            "base_url (https://api.mailgun.net, or https://api.eu.mailgun.net for an EU "
            "domain) and [mailgun] domain",
            fatal=True,
        )

    async def close(self) -> None:
        """Close the HTTP connection."""
        await self.client.aclose()


def _json(answer: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when it is none (a page, a list, garbage)."""
    try:
        found = answer.json()
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def mailgun_factory(config: Config) -> ConnectionFactory:
    """Connections that send through Mailgun's API for [mailgun] domain."""
    settings = config.mailgun
    url = f"{settings.base_url.rstrip('/')}/v3/{settings.domain}/messages.mime"

    async def connect() -> Connection:
        client = httpx.AsyncClient(auth=("api", settings.api_key), timeout=_TIMEOUT)
        return MailgunConnection(client, url)

    return connect
