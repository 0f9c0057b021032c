"""DKIM signatures with dkimpy, when `[dkim] domain` is set: every message digest sends,
with List-Unsubscribe and List-Unsubscribe-Post among the signed headers, as RFC 8058
requires for one-click unsubscribe to be honoured, and Feedback-ID, as Gmail's Feedback
Loop wants."""

from __future__ import annotations

import dkim

from digest.config import Config
from digest.errors import ConfigError

# Signed when present; From must be. List-Unsubscribe(-Post) per RFC 8058 section 4;
# Feedback-ID so no one can make a message count against another edition in Gmail's
# Feedback Loop.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
    b"reply-to",
)


def sign_message(config: Config, message: bytes) -> bytes:
    """The message with a DKIM-Signature header in front, or unchanged when not set."""
    settings = config.dkim
    if not settings.domain:
        return message
    present = {line.split(b":", 1)[0].strip().lower() for line in _header_lines(message)}
    headers = [h for h in SIGNED_HEADERS if h in present]
    try:
        signature = dkim.sign(
            message,
            settings.selector.encode(),
            settings.domain.encode(),
            settings.private_key.encode(),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
        )
    except (dkim.DKIMException, ValueError) as e:
        raise ConfigError(
            f"DKIM signing failed: {e}. Check DIGEST_DKIM_PRIVATE_KEY (a PEM RSA or Ed25519 "
            "private key) and [dkim] domain and selector."
        ) from e
    return bytes(signature) + message


def _header_lines(message: bytes) -> list[bytes]:
    head = message.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if line and line[:1] not in (b" ", b"\t")]
