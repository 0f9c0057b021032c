"""API tokens: made once (`digest tokens add`), stored as a hash, checked per request.

A token is ``dgt_`` and 43 URL-safe characters (256 random bits). Only its SHA-256 is
kept: a high-entropy secret needs no slow hash, and a copy of the store lets nobody
call the API. Each token carries scopes; each API route declares the one it needs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from digest import store
from digest.errors import AccessError

# Every scope a token may carry, and what it lets a caller do.
SCOPES: dict[str, str] = {
    "articles:write": "add and update articles (PUT /articles/{key}, POST /articles:batch)",
    "articles:read": "read articles",
    "subscribers:read": "read the list (GET /subscribers, the sync)",
    "subscribers:write": "sign readers up (double opt-in) and forget them",
    "subscribers:import": "add readers with their consent evidence, without a confirmation",
    "editions:read": "read what an edition holds and its counts",
    "stats:read": "read the counts",
}
PREFIX = "dgt_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class NewToken:
    """A token just made: the only time its value is known."""

    name: str
    scopes: tuple[str, ...]
    token: str


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(given: Iterable[str]) -> tuple[str, ...]:
    """Scopes from ``--scope a,b --scope c``: known ones only, sorted, each once."""
    scopes = {s.strip() for part in given for s in part.split(",") if s.strip()}
    unknown = sorted(scopes - set(SCOPES))
    if unknown:
        raise AccessError(
            f"unknown scope {', '.join(unknown)}: use one or more of {', '.join(SCOPES)} "
            "(comma-separated)"
        )
    if not scopes:
        raise AccessError(f"a token needs at least one scope: --scope {next(iter(SCOPES))}")
    return tuple(sorted(scopes))


def add_token(db: Database, name: str, scopes: Iterable[str], now: datetime) -> NewToken:
    """Make a token called ``name`` with ``scopes``; its value is returned once."""
    if not _NAME.match(name):
        raise AccessError(
            f"token name {name!r}: use up to 64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit), e.g. cms-production"
        )
    chosen = parse_scopes(scopes)
    if store.token_named(db, name) is not None:
        raise AccessError(
            f"a token called {name!r} exists: pick another name, or `digest tokens remove "
            f"{name}` first"
        )
    token = PREFIX + secrets.token_urlsafe(32)
    with store.transaction(db):
        store.insert_token(db, name, hash_token(token), chosen, now)
    return NewToken(name, chosen, token)


def list_tokens(db: Database) -> list[store.TokenRow]:
    """Every token (names, scopes, times; never a value)."""
    return store.all_tokens(db)


def remove_token(db: Database, name: str) -> None:
    """Revoke a token at once."""
    with store.transaction(db):
        if not store.delete_token(db, name):
            raise AccessError(f"no token is called {name!r}: `digest tokens list` names them")


def token_for(db: Database, presented: str) -> store.TokenRow | None:
    """The token a request presented, if it is one (compared by hash: a lookup of a
    SHA-256 leaks nothing about the value)."""
    if not presented.startswith(PREFIX):
        return None
    return store.token_by_hash(db, hash_token(presented))
