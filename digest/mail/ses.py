"""The Amazon SES v2 API as a transport: each message goes as the raw bytes digest
built (DKIM signature, List-Unsubscribe and Message-ID intact), one recipient a call.

boto3 reads the credentials, the region and the endpoint from the AWS environment
(``AWS_ENDPOINT_URL`` points it at a local endpoint, moto's in the tests); its own
retries are off, the pool retries. SES's answer goes through `replies.api_verdict`, the
SMTP table: an address SES refuses bounces that reader; an identity not verified, a
paused account or a spent quota stops the run and bounces nobody. The message id SES
returns goes to the ledger: its SNS events name the message by it. An answer without
one (an endpoint that is not SES's, say a web page at `AWS_ENDPOINT_URL`) counts as
nothing sent: the message stays open and the run stops, naming the setting to check.
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from typing import Any

from digest.config import Config
from digest.errors import ConfigError
from digest.mail.pool import Connection, ConnectionFactory, SendFailure
from digest.mail.replies import api_verdict, lost
from digest.models import DeliveryStatus


class SesConnection:
    """Sends through one shared SES client (boto3 clients are thread-safe)."""

    def __init__(self, client: Any, sender: str, configuration_set: str) -> None:
        self.client = client
        self.sender = sender  # the From address: a verified identity
        self.configuration_set = configuration_set

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: bool = False
    ) -> str | None:
        """One SendEmail call with the raw message; SES's message id, or SendFailure."""
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": data}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            answer = await asyncio.to_thread(self.client.send_email, **request)
        except Exception as e:
            raise _failure(e, recipient, self.client) from e
        message_id = answer.get("MessageId") if isinstance(answer, dict) else None
        if not isinstance(message_id, str) or not message_id.strip():
            raise _wrong_endpoint(self.client, "an answer without SES's MessageId")
        return message_id.strip()

    async def close(self) -> None:
        """Nothing to close: the client is shared."""


def _wrong_endpoint(client: Any, what: str) -> SendFailure:
    """Nothing SES would answer: the message is not counted, and the run stops."""
    url = getattr(getattr(client, "meta", None), "endpoint_url", "") or "the endpoint"
    return SendFailure(
        DeliveryStatus.DEFERRED,
        f"{url} gave {what}: it is not Amazon SES's API, and nothing sent through it "
        "counts; check AWS_ENDPOINT_URL (unset it for AWS itself) and [ses] region",
        fatal=True,
    )


def _failure(error: Exception, recipient: str, client: Any) -> SendFailure:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    from botocore.parsers import ResponseParserError

    if isinstance(error, ClientError):
        answer = error.response
        code = str(answer.get("Error", {}).get("Code", ""))
        words = str(answer.get("Error", {}).get("Message", ""))
        status = int(answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
        # botocore names an error by its HTTP status when the answer has no SES error
        # type in it (a web page's 404, say): not SES speaking
        if (not code or code == str(status)) and status < 500:
            return _wrong_endpoint(client, f"HTTP {status} with no SES error in it")
        return SendFailure.of(api_verdict("Amazon SES", status, code, words, recipient))
    if isinstance(error, ResponseParserError):
        return _wrong_endpoint(client, f"an answer that is not SES's JSON ({error})")
    if isinstance(error, NoCredentialsError):
        return SendFailure(
            DeliveryStatus.DEFERRED,
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a "
            "profile or role) for the SES transport",
            fatal=True,
        )
    if isinstance(error, BotoCoreError):
        return SendFailure.of(lost(f"Amazon SES could not be reached: {error}"))
    return SendFailure.of(lost(f"Amazon SES: {error!r}"))


@lru_cache(maxsize=4)
def ses_client(region: str) -> Any:
    """A boto3 SESv2 client for ``region`` (else the AWS environment's), no retries of
    its own."""
    import boto3
    from botocore.config import Config as BotoConfig

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    if not region:
        raise ConfigError(
            'The SES transport needs a region: set [ses] region (like "us-east-1") or '
            "AWS_REGION in the environment."
        )
    settings = BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.client("sesv2", region_name=region, config=settings)


def ses_factory(config: Config) -> ConnectionFactory:
    """Connections that send through SES."""
    client = ses_client(config.ses.region)

    async def connect() -> Connection:
        return SesConnection(client, config.sender_address, config.ses.configuration_set)

    return connect
