"""MIME messages: built once per variant, personalised per subscriber by substitution.

The variant's shared headers are folded once with a 998-column policy (so
``List-Unsubscribe`` is never folded into encoded-words); each subscriber's copy fills
in the placeholders, quoted-printable encodes the two parts with the C codec, and
joins the bytes. No ``email.message`` objects are built per subscriber.
"""

from __future__ import annotations

import binascii
import email.policy
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from digest.config import Config
from digest.errors import HeaderError
from digest.models import RenderedVariant, Subscriber
from digest.render import PLACEHOLDERS
from digest.tokens import sign_token

_POLICY = email.policy.SMTP.clone(max_line_length=998)
_PLACEHOLDER_SPLIT = re.compile("(" + "|".join(map(re.escape, PLACEHOLDERS.values())) + ")")
_NAME_OF = {v: k for k, v in PLACEHOLDERS.items()}


@dataclass(frozen=True)
class PreparedVariant:
    """A variant ready for cheap per-subscriber assembly."""

    key: str
    head: bytes  # the shared headers, CRLF-terminated
    boundary: str
    text_parts: tuple[str, ...]  # literal, placeholder name, literal, ...
    html_parts: tuple[str, ...]
    week: str
    domain: str


def check_header_value(name: str, value: str) -> str:
    """``value`` unchanged, or HeaderError if it holds CR or LF (header injection)."""
    if "\r" in value or "\n" in value:
        raise HeaderError(f"The {name} header value {value[:60]!r} contains a line break.")
    return value


def fold_header(name: str, value: str) -> bytes:
    """One header line as bytes: encoded-words only where non-ASCII, never folded early."""
    check_header_value(name, value)
    line = f"{name}: {value}\r\n"
    if value.isascii() and len(line) <= 1000:  # what the policy would write, 40x cheaper
        return line.encode("ascii")
    return _POLICY.fold_binary(name, _POLICY.header_factory(name, value))


def prepare_variant(
    config: Config, variant: RenderedVariant, week: str, now: datetime, subject_prefix: str = ""
) -> PreparedVariant:
    """Fold the shared headers and split both bodies around their placeholders."""
    domain = config.sender_address.rpartition("@")[2].lower()
    boundary = "=_digest_" + hashlib.sha256(f"{week}/{variant.key}".encode()).hexdigest()[:24]
    headers = [
        fold_header("From", config.newsletter.sender),
        fold_header("Subject", subject_prefix + variant.subject),
        fold_header("Date", format_datetime(now)),
        fold_header("List-Id", f"{config.newsletter.name} <{config.list_id}>"),
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        fold_header("Precedence", "bulk"),
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
    ]
    if config.newsletter.reply_to:
        headers.insert(1, fold_header("Reply-To", config.newsletter.reply_to))
    return PreparedVariant(
        key=variant.key,
        head=b"".join(headers),
        boundary=boundary,
        text_parts=tuple(_PLACEHOLDER_SPLIT.split(variant.text)),
        html_parts=tuple(_PLACEHOLDER_SPLIT.split(variant.html)),
        week=week,
        domain=domain,
    )


def message_id(week: str, subscriber_id: int, list_id: str, domain: str) -> str:
    """The same Message-ID for the same edition and subscriber, on every attempt."""
    return f"<{week}.{subscriber_id}.{list_id}@{domain}>"


def build_message(config: Config, prepared: PreparedVariant, subscriber: Subscriber) -> bytes:
    """The full message for one subscriber, as bytes ready for SMTP DATA."""
    token = sign_token(config.secret, config.list_id, subscriber.id)
    unsubscribe_url = f"{config.base_url}/unsubscribe/{token}"
    mailto = f"mailto:{config.unsubscribe_mailto}?subject={quote('unsubscribe ' + token)}"
    greeting = f"Hi {subscriber.name}," if subscriber.name else "Hello,"
    text_values = {"token": token, "email": subscriber.email, "greeting": greeting}
    html_values = {k: html.escape(v) for k, v in text_values.items()}
    personal = [
        _to_header(subscriber),
        fold_header(
            "Message-ID", message_id(prepared.week, subscriber.id, config.list_id, prepared.domain)
        ),
        fold_header("List-Unsubscribe", f"<{unsubscribe_url}>, <{mailto}>"),
    ]
    b = prepared.boundary
    return b"".join(
        [
            prepared.head,
            *personal,
            b"\r\n",
            _part(b, "text/plain", _fill(prepared.text_parts, text_values)),
            _part(b, "text/html", _fill(prepared.html_parts, html_values)),
            f"--{b}--\r\n".encode(),
        ]
    )


def _to_header(subscriber: Subscriber) -> bytes:
    name = check_header_value("To", subscriber.name)
    address = check_header_value("To", subscriber.email)
    if (name + address).isascii():  # the common case, without the header parser's cost
        return b"To: " + formataddr((name, address)).encode("ascii") + b"\r\n"
    return fold_header("To", str(Address(display_name=name, addr_spec=address)))


def _fill(parts: tuple[str, ...], values: dict[str, str]) -> str:
    # Odd positions are placeholders (re.split with one capturing group).
    return "".join(values[_NAME_OF[p]] if i % 2 else p for i, p in enumerate(parts))


def _part(boundary: str, content_type: str, body: str) -> bytes:
    data = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = binascii.b2a_qp(data)
    if not encoded.endswith(b"\r\n"):
        encoded += b"\r\n"
    return (
        f'--{boundary}\r\nContent-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + encoded
