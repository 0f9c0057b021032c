"""Signed per-subscriber tokens for unsubscribe and preference links.

A token is the subscriber id and an HMAC-SHA256 signature over the list id and that
subscriber id, keyed with DIGEST_SECRET. It carries no address, never expires, is bound
to one list, and any change to it breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

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


# VERP: bounces+<subscriber>.<edition>.<signature>@domain. Lower-case hex only: mail
# systems may change the case of a local part on the way back.
_VERP = re.compile(r"\+([1-9][0-9]{0,17})\.([1-9][0-9]{0,17})\.([0-9a-f]{16})@")


def verp_address(
    secret: str, list_id: str, return_path: str, subscriber_id: int, edition_id: int
) -> str:
    """The envelope sender for one subscriber's copy of one edition: a bounce to it names
    the subscriber and the edition even when the report itself does not."""
    local, _, domain = return_path.rpartition("@")
    signature = _verp_signature(secret, list_id, subscriber_id, edition_id)
    return f"{local}+{subscriber_id}.{edition_id}.{signature}@{domain}"


def parse_verp(secret: str, list_id: str, address: str) -> tuple[int, int] | None:
    """(subscriber id, edition id) from a VERP address digest signed; None otherwise."""
    found = _VERP.search(address.lower())
    if found is None:
        return None
    subscriber_id, edition_id = int(found.group(1)), int(found.group(2))
    expected = _verp_signature(secret, list_id, subscriber_id, edition_id)
    return (subscriber_id, edition_id) if hmac.compare_digest(found.group(3), expected) else None


def _verp_signature(secret: str, list_id: str, subscriber_id: int, edition_id: int) -> str:
    message = f"verp\x1f{list_id}\x1f{subscriber_id}\x1f{edition_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


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


def client_key(secret: str, address: str) -> str:
    """A keyed hash of a client's IP address: countable for rate limits, not reversible
    without the key (the consent record's default form)."""
    mac = hmac.new(secret.encode(), f"client\x1f{address}".encode(), hashlib.sha256)
    return "h:" + mac.hexdigest()[:24]
