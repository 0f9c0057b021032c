"""Mailgun's API as a transport: each message goes as the raw bytes digest built
(``messages.mime``), one recipient a call, with Mailgun's tracking off so not a byte of
it changes. The answer goes through `replies.api_verdict`, the SMTP table; the message
id Mailgun returns goes to the ledger. The key is DIGEST_MAILGUN_API_KEY.
"""

from __future__ import annotations

from typing import Any

import httpx

from digest.config import Config
from digest.delivery.pool import Connection, ConnectionFactory, SendFailure
from digest.delivery.replies import api_verdict, lost

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
        if answer.status_code != 200:
            words = str(body.get("message", "")) or answer.text[:300]
            raise SendFailure.of(api_verdict("Mailgun", answer.status_code, "", words))
        return str(body.get("id", "")).strip("<>") or None

    async def close(self) -> None:
        """Close the HTTP connection."""
        await self.client.aclose()


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def mailgun_factory(config: Config) -> ConnectionFactory:
    """Connections that send through Mailgun's API for [mailgun] domain."""
    settings = config.mailgun
    url = f"{settings.base_url.rstrip('/')}/v3/{settings.domain}/messages.mime"

    async def connect() -> Connection:
        client = httpx.AsyncClient(auth=("api", settings.api_key), timeout=_TIMEOUT)
        return MailgunConnection(client, url)

    return connect
