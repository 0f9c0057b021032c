"""MIME messages: built once per variant, personalised per subscriber by substitution.

The variant's shared headers are folded once with a 998-column policy (so
``List-Unsubscribe`` is never folded into encoded-words); each subscriber's copy fills
in the placeholders, quoted-printable encodes the two parts with the C codec, and
joins the bytes. No ``email.message`` objects are built per subscriber.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from digest.addresses import first_name
from digest.bodies import EncodedPart, encode_body, fill
from digest.config import Config
from digest.errors import HeaderError
from digest.language import language
from digest.models import RenderedVariant, Subscriber
from digest.tokens import sign_message_id, sign_token

_POLICY = email.policy.SMTP.clone(max_line_length=998)
# Postmark echoes X-PM-Metadata-* headers in its webhook events: with `[delivery]
# provider = "postmark"` each message names its own signed Message-ID there.
POSTMARK_METADATA = "X-PM-Metadata-digest-message-id"


@dataclass(frozen=True)
class PreparedVariant:
    """A variant ready for cheap per-subscriber assembly."""

    key: str
    head: bytes  # the shared headers, CRLF-terminated
    boundary: str
    text: EncodedPart  # quoted-printable bytes and placeholder names, in order
    html: EncodedPart
    week: str
    domain: str
    id_tag: str = ""  # test copies get their own Message-IDs


def message_parts(raw: bytes) -> tuple[str, str]:
    """The decoded (HTML, plain text) bodies of a message."""
    found: dict[str, str] = {}
    for part in message_from_bytes(raw).walk():
        if part.get_content_type() in ("text/html", "text/plain"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode("utf-8")
    return found.get("text/html", ""), found.get("text/plain", "")


def html_part_size(raw: bytes) -> int:
    """Bytes of the HTML part's body as it travels (quoted-printable, soft breaks and
    all): what Gmail's clipping counts. Its limit sits near 102 KB of HTML, and the
    encoding counts, as Al Iverson measured for spamresource.com in 2022 ("What is
    Gmail clipping", ~102-105 KB); the text part, the headers and the other MIME
    parts do not."""
    for part in message_from_bytes(raw).walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=False)
            return len(payload.encode("ascii", "replace")) if isinstance(payload, str) else 0
    return 0


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


_FEEDBACK_FIELD = re.compile(r"[^A-Za-z0-9._-]+")


def feedback_id(config: Config, week: str, copy: str, test: bool = False) -> str:
    """The Feedback-ID of one copy of an edition, ``edition:copy:list:SenderId`` as
    Gmail's Feedback Loop reads it (each field aggregated on its own; the SenderId,
    5-15 characters and the same on every message of the list, last), so Postmaster
    Tools reports the spam rate per edition and per copy; two editions never share one.
    A test copy names itself so (``<week>-test``); no field holds a colon."""
    copy_id = _FEEDBACK_FIELD.sub("-", copy).strip("-") or "all"
    if len(copy_id) > 40:  # a long topic choice: its own short, stable name
        copy_id = copy_id[:31] + "-" + hashlib.sha256(copy.encode()).hexdigest()[:8]
    edition_id = _FEEDBACK_FIELD.sub("-", week) + ("-test" if test else "")
    list_id = _FEEDBACK_FIELD.sub("-", config.list_id)
    sender_id = "dg" + hashlib.sha256(config.list_id.encode()).hexdigest()[:10]
    return f"{edition_id}:{copy_id}:{list_id}:{sender_id}"


def prepare_variant(
    config: Config,
    variant: RenderedVariant,
    week: str,
    now: datetime,
    subject_prefix: str = "",
    id_tag: str = "",
) -> PreparedVariant:
    """Fold the shared headers and split both bodies around their placeholders."""
    domain = config.sender_address.rpartition("@")[2].lower()
    boundary = "=_digest_" + hashlib.sha256(f"{week}/{variant.key}".encode()).hexdigest()[:24]
    headers = [
        fold_header("From", config.newsletter.sender),
        fold_header("Subject", subject_prefix + variant.subject),
        fold_header("Date", format_datetime(now)),
        fold_header("List-Id", f"{config.newsletter.name} <{config.list_id}>"),
        fold_header("Feedback-ID", feedback_id(config, week, variant.key, bool(id_tag))),
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
        text=encode_body(variant.text, variant.slots, _part_head(boundary, "text/plain")),
        html=encode_body(variant.html, variant.slots, _part_head(boundary, "text/html")),
        week=week,
        domain=domain,
        id_tag=id_tag,
    )


def build_message(config: Config, prepared: PreparedVariant, subscriber: Subscriber) -> bytes:
    """The full message for one subscriber, as bytes ready for SMTP DATA."""
    token = sign_token(config.secret, config.list_id, subscriber.id)
    unsubscribe_url = f"{config.base_url}/unsubscribe/{token}"
    mailto = f"mailto:{config.unsubscribe_mailto}?subject={quote('unsubscribe ' + token)}"
    greeting = greeting_for(config, subscriber.name)
    text_values = {"token": token, "email": subscriber.email, "greeting": greeting}
    html_values = {k: html.escape(v) for k, v in text_values.items()}
    msg_id = sign_message_id(
        config.secret,
        config.list_id,
        prepared.week,
        subscriber.id,
        prepared.domain,
        prepared.id_tag,
    )
    extra = (
        fold_header(POSTMARK_METADATA, msg_id.strip("<>"))
        if config.delivery.provider == "postmark"
        else b""
    )
    return b"".join(
        [
            prepared.head,
            _to_header(subscriber),
            fold_header("Message-ID", msg_id),
            extra,
            fold_header("List-Unsubscribe", f"<{unsubscribe_url}>, <{mailto}>"),
            b"\r\n",
            *fill(prepared.text, text_values),
            *fill(prepared.html, html_values),
            f"--{prepared.boundary}--\r\n".encode(),
        ]
    )


def greeting_for(config: Config, name: str) -> str:
    """The greeting line: `[digest] greeting` (default "Hi {first_name}," in the
    edition's language) with the reader's first name, or their whole name when no first
    name can be told (`addresses.first_name`); the anonymous greeting without a name."""
    words = language(config.newsletter.language)
    if not name.strip():
        return config.digest.greeting_anonymous or words.gettext("Hello,")
    template = config.digest.greeting or words.gettext("Hi {first_name},")
    return template.format(first_name=first_name(name) or name.strip(), name=name.strip())


def _to_header(subscriber: Subscriber) -> bytes:
    """The To line; folded (never past 998 octets, RFC 5322) however long the name."""
    name = check_header_value("To", subscriber.name)
    address = check_header_value("To", subscriber.email)
    if (name + address).isascii():  # the common case, without the header parser's cost
        return _at_most_998(fold_header("To", formataddr((name, address))))
    if address.isascii():
        return _at_most_998(fold_header("To", str(Address(display_name=name, addr_spec=address))))
    # A non-ASCII local part travels only with SMTPUTF8, where headers are UTF-8 (RFC
    # 6532): the address goes raw; a display name is still an encoded-word.
    shown = formataddr((name, "x@x")).removesuffix("<x@x>") if name else ""
    return b"To: " + shown.encode("ascii") + b"<" + address.encode("utf-8") + b">\r\n"


def _at_most_998(header: bytes) -> bytes:
    """The header, or HeaderError when a line of it would pass RFC 5322's 998 octets (a
    name with no space to fold at): a relay would refuse the message."""
    if len(header) > 1000 and any(len(line) > 998 for line in header.split(b"\r\n")):
        raise HeaderError(
            "the To header would pass 998 octets (the name cannot be folded); shorten the "
            "subscriber's name with `digest subscribers add EMAIL --name ...`"
        )
    return header


def _part_head(boundary: str, content_type: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode()
