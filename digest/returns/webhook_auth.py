"""Is this webhook request really from the provider? Each is checked the provider's own
way before anything is read from it:

- Amazon SNS (SES events): the message's RSA signature (SignatureVersion 1: SHA1, 2:
  SHA256) over its fields, with the certificate at SigningCertURL, which must be an
  https URL on ``sns.<region>.amazonaws.com``; the topic must be one of `[ses]
  topic_arns` (anyone can make a topic AWS signs for); the message must be recent.
- SendGrid: the ECDSA (P-256, SHA-256) signature of the timestamp and the raw body,
  with the verification key in DIGEST_SENDGRID_WEBHOOK_KEY; the timestamp must be recent.
- Mailgun: HMAC-SHA256 of timestamp and token with DIGEST_MAILGUN_SIGNING_KEY; the
  timestamp must be recent and the token never seen before.
- Postmark: the basic-auth password of the webhook URL, DIGEST_POSTMARK_WEBHOOK_PASSWORD.

A request that fails gets `WebhookRefused` (401 without credentials, 403 with wrong
ones, or replayed, or stale): nothing is read from it and nothing changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

# Where SNS keeps its signing certificates: https://sns.<region>.amazonaws.com[.cn]/...pem
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
_SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_SIGNED["UnsubscribeConfirmation"] = _SNS_SIGNED["SubscriptionConfirmation"]
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

# URL -> the PEM certificate there. `fetch_certificate` over HTTPS in production.
CertificateFetcher = Callable[[str], bytes]


class WebhookRefused(Exception):
    """The request is not proven to come from the provider: its HTTP status and why;
    ``guess`` when it gave a wrong shared secret (a password someone may be guessing)."""

    def __init__(self, status: int, reason: str, *, guess: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.guess = guess


class Guesses:
    """Wrong webhook passwords per client: after ``limit`` within ``window`` seconds,
    every request from that client is refused (429, even with the right password) until
    the window has passed since its failures, so a password cannot be guessed at speed.
    Kept in memory, for ``most`` clients at most (the oldest forgotten first)."""

    def __init__(self, limit: int = 10, window: int = 600, most: int = 10_000) -> None:
        self.limit, self.window, self.most = limit, window, most
        self._failures: dict[str, list[datetime]] = {}

    def check(self, client: str, now: datetime) -> None:
        """WebhookRefused(429) while ``client`` has failed too often."""
        recent = self._recent(client, now)
        if len(recent) >= self.limit:
            wait = self.window - int((now - recent[0]).total_seconds())
            raise WebhookRefused(
                429,
                f"{len(recent)} wrong webhook passwords from {client or 'this client'} in "
                f"{self.window} s: refused for {max(wait, 1)} s more",
            )

    def failed(self, client: str, now: datetime) -> None:
        """Count one wrong password from ``client``."""
        recent = self._recent(client, now)
        recent.append(now)
        self._failures[client] = recent
        while len(self._failures) > self.most:
            self._failures.pop(next(iter(self._failures)))

    def _recent(self, client: str, now: datetime) -> list[datetime]:
        kept = [
            t for t in self._failures.pop(client, []) if (now - t).total_seconds() < self.window
        ]
        if kept:
            self._failures[client] = kept
        return kept


def epoch_time(stamp: str, what: str) -> datetime:
    """A signed Unix timestamp as a time; WebhookRefused(403) for anything else (not
    digits, or past what a time can be)."""
    if not stamp.isdigit() or len(stamp) > 12:
        raise WebhookRefused(403, f"the {what} timestamp {stamp[:30]!r} is not a time")
    try:
        return datetime.fromtimestamp(int(stamp), UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise WebhookRefused(403, f"the {what} timestamp {stamp[:30]!r} is not a time") from e


def verify_sns(
    message: Mapping[str, Any],
    topics: Sequence[str],
    fetch: CertificateFetcher,
    now: datetime,
    max_age: int,
) -> None:
    """An SNS message (the JSON body SNS posts) signed by AWS for one of ``topics``."""
    kind = str(message.get("Type", ""))
    if kind not in _SNS_SIGNED:
        raise WebhookRefused(400, f"not an SNS message (Type {kind!r})")
    if not topics:
        raise WebhookRefused(
            403, "no SNS topic is accepted: list the topic's ARN in [ses] topic_arns"
        )
    if message.get("TopicArn") not in topics:
        raise WebhookRefused(
            403, f"the topic {message.get('TopicArn')!r} is not in [ses] topic_arns"
        )
    url = str(message.get("SigningCertURL", ""))
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not SNS_HOST.match(parts.hostname or "")
        or not parts.path.endswith(".pem")
    ):
        raise WebhookRefused(403, f"the signing certificate is not SNS's: {url[:100]!r}")
    version = str(message.get("SignatureVersion", ""))
    digest = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if digest is None:
        raise WebhookRefused(403, f"unknown SNS SignatureVersion {version!r}")
    _recent(_sns_time(message.get("Timestamp")), now, max_age)
    signed = "".join(
        f"{name}\n{message[name]}\n" for name in _SNS_SIGNED[kind] if name in message
    ).encode()
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        certificate = _certificate(url, fetch)
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookRefused(403, "the SNS certificate's key is not RSA")
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise WebhookRefused(403, "the SNS certificate is not valid now")
        key.verify(signature, signed, padding.PKCS1v15(), digest)
    except (InvalidSignature, binascii.Error, ValueError) as e:
        raise WebhookRefused(403, f"the SNS signature does not verify ({e or 'wrong'})") from e


def _certificate(url: str, fetch: CertificateFetcher) -> x509.Certificate:
    return _loaded(fetch(url))


@lru_cache(maxsize=16)
def _loaded(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def fetch_certificate(url: str) -> bytes:
    """SNS's certificate over HTTPS (the URL is already checked), cached by URL."""
    return _fetched(url)


@lru_cache(maxsize=16)
def _fetched(url: str) -> bytes:
    import httpx

    try:
        answer = httpx.get(url, timeout=10.0, follow_redirects=False)
        answer.raise_for_status()
    except httpx.HTTPError as e:
        raise WebhookRefused(403, f"the SNS certificate could not be fetched: {e}") from e
    return answer.content


def _sns_time(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError) as e:
        raise WebhookRefused(403, f"the SNS Timestamp {value!r} is not a time") from e


def verify_sendgrid(
    body: bytes, headers: Mapping[str, str], key: str, now: datetime, max_age: int
) -> None:
    """A SendGrid event webhook request signed with the key whose public half is ``key``."""
    if not key:
        raise WebhookRefused(403, "set DIGEST_SENDGRID_WEBHOOK_KEY to take SendGrid's events")
    signature, stamp = headers.get(SENDGRID_SIGNATURE, ""), headers.get(SENDGRID_TIMESTAMP, "")
    if not signature or not stamp:
        raise WebhookRefused(401, "no SendGrid signature: turn on the signed event webhook")
    _recent(epoch_time(stamp, "SendGrid"), now, max_age)
    try:
        public = serialization.load_der_public_key(base64.b64decode(key))
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise WebhookRefused(403, "DIGEST_SENDGRID_WEBHOOK_KEY is not an ECDSA key")
        public.verify(base64.b64decode(signature), stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError) as e:
        raise WebhookRefused(403, "the SendGrid signature does not verify") from e


def verify_mailgun(payload: Mapping[str, Any], key: str, now: datetime, max_age: int) -> str:
    """A Mailgun webhook signed with ``key``; its token, which must never come twice."""
    if not key:
        raise WebhookRefused(403, "set DIGEST_MAILGUN_SIGNING_KEY to take Mailgun's events")
    signed = payload.get("signature")
    if not isinstance(signed, dict):
        raise WebhookRefused(401, "no Mailgun signature")
    stamp, token = str(signed.get("timestamp", "")), str(signed.get("token", ""))
    if not stamp.isdigit() or not token:
        raise WebhookRefused(403, "the Mailgun signature lacks its timestamp or token")
    _recent(epoch_time(stamp, "Mailgun"), now, max_age)
    expected = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signed.get("signature", ""))):
        raise WebhookRefused(403, "the Mailgun signature does not verify")
    return token


def verify_postmark(headers: Mapping[str, str], password: str) -> None:
    """A Postmark webhook request with the basic-auth password of its URL."""
    if not password:
        raise WebhookRefused(403, "set DIGEST_POSTMARK_WEBHOOK_PASSWORD to take Postmark's events")
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRefused(401, "no credentials: put user:password in the webhook's URL")
    try:
        _, _, given = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise WebhookRefused(401, "unreadable credentials", guess=True) from e
    if not hmac.compare_digest(given.encode(), password.encode()):
        raise WebhookRefused(403, "wrong webhook password", guess=True)


def _recent(stamp: datetime, now: datetime, max_age: int) -> None:
    if abs((now - stamp).total_seconds()) > max_age:
        raise WebhookRefused(
            403, f"signed at {stamp:%Y-%m-%d %H:%M:%S}Z, outside the {max_age} s window: a replay?"
        )
