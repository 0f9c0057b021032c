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
