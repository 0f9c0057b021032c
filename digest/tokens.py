"""Signed per-subscriber tokens for unsubscribe and preference links.

A token names a subscriber id and a list, signed with HMAC-SHA256 under DIGEST_SECRET.
It carries no address, never expires, and any change to it breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{2,200}\.[A-Za-z0-9_-]{22}$")


def sign_token(secret: str, list_id: str, subscriber_id: int) -> str:
    """The token for ``subscriber_id`` on ``list_id``."""
    payload = _b64(f"{list_id}:{subscriber_id}".encode())
    return f"{payload}.{_signature(secret, payload)}"


def verify_token(secret: str, list_id: str, token: str) -> int | None:
    """The subscriber id in a valid token for ``list_id``; None for anything else."""
    if not _TOKEN.match(token):
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    try:
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except ValueError:
        return None
    list_part, _, subscriber = decoded.rpartition(":")
    if list_part != list_id or not subscriber.isdigit():
        return None
    return int(subscriber)


def _signature(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return _b64(mac[:16])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
