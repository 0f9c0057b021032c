"""Everything digest signs with DIGEST_SECRET (HMAC-SHA256): the per-subscriber tokens of
unsubscribe and preference links, VERP return paths, Message-IDs, confirmation links and
"keep sending" links and keyed hashes of client addresses.

A token is the subscriber id and a signature over the list id and that subscriber id.
It carries no address, never expires, is bound to one list, and any change to it breaks
the signature. A VERP address and a Message-ID name a subscriber and the message sent
them, so that a returned message that quotes either proves what it answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

from digest.addresses import mailbox_key

_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{22})")


def sign_token(secret: str, list_id: str, subscriber_id: int) -> str:
    """The token for ``subscriber_id`` on ``list_id``."""
    return f"{subscriber_id}.{_signature(secret, list_id, subscriber_id)}"


def verify_token(secret: str, list_id: str, token: str) -> int | None:
    """The subscriber id in a valid token for ``list_id``; None for anything else."""
    match = _TOKEN.fullmatch(token)  # fullmatch: `$` would let a trailing newline in
    if not match:
        return None
    subscriber_id = int(match.group(1))
    expected = _signature(secret, list_id, subscriber_id)
    return subscriber_id if hmac.compare_digest(match.group(2), expected) else None


def _signature(secret: str, list_id: str, subscriber_id: int) -> str:
    message = f"unsubscribe\x1f{list_id}\x1f{subscriber_id}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


@dataclass(frozen=True)
class Sent:
    """What one message digest signed was: an edition (by its id) or a probe (by the id
    of its event). Written into VERP addresses and Message-IDs as the edition's id, or
    "p<n>" for probe n, and read back by `Sent.parse` alone."""

    edition: int | None = None
    probe: int | None = None

    def __str__(self) -> str:
        return f"p{self.probe}" if self.probe is not None else str(self.edition)

    @classmethod
    def parse(cls, text: str) -> Sent | None:
        """The message ``text`` names ("12", "p7"); None for anything else (a week)."""
        if text.startswith("p") and text[1:].isdigit():
            return cls(probe=int(text[1:]))
        return cls(edition=int(text)) if text.isdigit() else None


# VERP: bounces+<subscriber>.<ref>.<signature>@domain, where <ref> is a `Sent`: the
# edition's id or "p<n>" for probe n (see `returns`). Lower-case hex only: mail systems may change
# the case of a local part on the way back.
_VERP = re.compile(r"\+([1-9][0-9]{0,17})\.([1-9][0-9]{0,17}|p[1-9][0-9]{0,17})\.([0-9a-f]{16})@")


def verp_address(secret: str, list_id: str, return_path: str, subscriber_id: int, ref: Sent) -> str:
    """The envelope sender for one message to one subscriber: a bounce to it proves
    which subscriber and which message (an edition's id, or "p<n>" for a probe) it
    answers, even when the report itself names neither."""
    local, _, domain = return_path.rpartition("@")
    signature = _verp_signature(secret, list_id, subscriber_id, str(ref))
    return f"{local}+{subscriber_id}.{ref}.{signature}@{domain}"


def parse_verp(secret: str, list_id: str, address: str) -> tuple[int, Sent] | None:
    """(subscriber id, what was sent) from a VERP address digest signed; None otherwise."""
    found = _VERP.search(address.lower())
    if found is None:
        return None
    subscriber_id, ref = int(found.group(1)), found.group(2)
    expected = _verp_signature(secret, list_id, subscriber_id, ref)
    sent = Sent.parse(ref)
    if sent is None or not hmac.compare_digest(found.group(3), expected):
        return None
    return subscriber_id, sent


def _verp_signature(secret: str, list_id: str, subscriber_id: int, ref: str) -> str:
    message = f"verp\x1f{list_id}\x1f{subscriber_id}\x1f{ref}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


def sign_message_id(
    secret: str, list_id: str, about: str, subscriber_id: int, domain: str, tag: str = ""
) -> str:
    """A Message-ID that proves what it was: ``about`` (an edition's week, or "p<n>" for
    a probe) sent to ``subscriber_id``. The same on every attempt, so a resend can be
    recognised; signed, so a report that quotes it proves it answers our message."""
    signature = _message_id_signature(secret, list_id, tag + about, subscriber_id)
    return f"<{tag}{about}.{subscriber_id}.{signature}.{list_id}@{domain}>"


@dataclass(frozen=True)
class MessageRef:
    """What a Message-ID digest signed says about its message."""

    about: str  # the edition's week, or "p<n>" for a probe
    subscriber_id: int
    test: bool  # a test copy: about nobody on the list

    @property
    def probe(self) -> Sent | None:
        """The probe it was, when it was one (an edition's Message-ID names its week)."""
        sent = Sent.parse(self.about)
        return sent if sent is not None and sent.probe is not None else None


@lru_cache(maxsize=8)
def _message_id_pattern(list_id: str) -> re.Pattern[str]:
    return re.compile(
        r"<((?:test-\d+-)?)([A-Za-z0-9-]{1,24})\.([1-9][0-9]{0,17})\.([0-9a-f]{16})\."
        + re.escape(list_id)
        + r"@",
        re.I,
    )


def parse_message_id(secret: str, list_id: str, text: str) -> MessageRef | None:
    """The reference in a Message-ID digest signed for ``list_id``; None for any other
    (unsigned, altered, another list's)."""
    found = _message_id_pattern(list_id).search(text)
    if found is None:
        return None
    tag, about, subscriber_id = found.group(1), found.group(2), int(found.group(3))
    expected = _message_id_signature(secret, list_id, tag + about, subscriber_id)
    if not hmac.compare_digest(found.group(4).lower(), expected):
        return None
    return MessageRef(about, subscriber_id, bool(tag))


def _message_id_signature(secret: str, list_id: str, about: str, subscriber_id: int) -> str:
    message = f"message-id\x1f{list_id}\x1f{about}\x1f{subscriber_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


def find_tokens(secret: str, list_id: str, text: str) -> list[int]:
    """Subscriber ids of the valid unsubscribe tokens quoted in ``text`` (a returned
    message's copy of our List-Unsubscribe header or links)."""
    found = []
    for candidate in _QUOTED_TOKEN.findall(text):
        subscriber_id = verify_token(secret, list_id, candidate)
        if subscriber_id is not None:
            found.append(subscriber_id)
    return list(dict.fromkeys(found))


_QUOTED_TOKEN = re.compile(
    r"(?:/unsubscribe/|unsubscribe(?:%20|\+| ))"  # the https link, or the mailto subject
    r"([1-9][0-9]{0,17}\.[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])"
)


def sign_confirmation(secret: str, list_id: str, signup_id: int, email: str, issued: int) -> str:
    """The token of a sign-up's confirmation link: bound to that sign-up, its address
    and when it was asked for (so an altered or reused link fails)."""
    return f"{signup_id}.{_confirm_signature(secret, list_id, signup_id, email, issued)}"


def confirmation_id(token: str) -> int | None:
    """The sign-up id a well-formed confirmation token names (not yet verified)."""
    match = _TOKEN.fullmatch(token)
    return int(match.group(1)) if match else None


def verify_confirmation(
    secret: str, list_id: str, token: str, signup_id: int, email: str, issued: int
) -> bool:
    """True when ``token`` was signed for this sign-up."""
    expected = sign_confirmation(secret, list_id, signup_id, email, issued)
    return hmac.compare_digest(token, expected)


def _confirm_signature(secret: str, list_id: str, signup_id: int, email: str, issued: int) -> str:
    message = f"confirm\x1f{list_id}\x1f{signup_id}\x1f{email.lower()}\x1f{issued}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def sign_keep(secret: str, list_id: str, subscriber_id: int, ask_id: int, issued: int) -> str:
    """The token of a re-permission email's "keep sending" link: the ask's id (a
    subscriber event), signed over the list, the subscriber and when it was asked."""
    return f"{ask_id}.{_keep_signature(secret, list_id, subscriber_id, ask_id, issued)}"


def keep_ask_id(token: str) -> int | None:
    """The ask a well-formed keep token names (not yet verified)."""
    match = _TOKEN.fullmatch(token)
    return int(match.group(1)) if match else None


def verify_keep(
    secret: str, list_id: str, token: str, subscriber_id: int, ask_id: int, issued: int
) -> bool:
    """True when ``token`` was signed for this ask of this subscriber."""
    return hmac.compare_digest(token, sign_keep(secret, list_id, subscriber_id, ask_id, issued))


def _keep_signature(secret: str, list_id: str, subscriber_id: int, ask_id: int, issued: int) -> str:
    message = f"keep\x1f{list_id}\x1f{subscriber_id}\x1f{ask_id}\x1f{issued}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def client_key(secret: str, address: str) -> str:
    """A keyed hash of a client's IP address: countable for rate limits, not reversible
    without the key (the consent record's default form)."""
    mac = hmac.new(secret.encode(), f"client\x1f{address}".encode(), hashlib.sha256)
    return "h:" + mac.hexdigest()[:24]


def suppression_hash(secret: str, address: str) -> str:
    """The keyed hash an erased reader's mailbox is kept as on the suppression list:
    HMAC-SHA256 of its mailbox key (case, +tag and, where the provider ignores them,
    dots folded), so the address itself is never stored and cannot be recovered from the
    store alone, yet the same person is recognised in any later import."""
    return _suppression(secret, mailbox_key(address))


def suppression_hashes(secret: str, address: str) -> frozenset[str]:
    """Every hash the suppression list may keep an address's mailbox by: its mailbox
    key's, and the one of the key with the domain as written (lists kept before a
    provider's second domain was folded into its first)."""
    return frozenset(
        _suppression(secret, key)
        for key in (mailbox_key(address), mailbox_key(address, aliases=False))
    )


def _suppression(secret: str, folded: str) -> str:
    data = b"suppression\x00" + folded.encode("utf-8")
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
