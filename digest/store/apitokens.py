"""API tokens: a name, its scopes and the SHA-256 of the token (never the token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import insert_row, to_db_time


@dataclass(frozen=True)
class TokenRow:
    """One API token as stored."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: str
    last_used_at: str


def insert_token(
    db: Database, name: str, hashed: str, scopes: tuple[str, ...], now: datetime
) -> int:
    """Store a new token's hash; its id."""
    return insert_row(
        db,
        "api_tokens",
        {
            "name": name,
            "hash": hashed,
            "scopes": ",".join(scopes),
            "created_at": to_db_time(now),
        },
    )


def token_named(db: Database, name: str) -> TokenRow | None:
    """The token called ``name``."""
    rows = list(db.query("SELECT * FROM api_tokens WHERE name = ?", [name]))
    return _row(rows[0]) if rows else None


def token_by_hash(db: Database, hashed: str) -> TokenRow | None:
    """The token whose hash is ``hashed``."""
    rows = list(db.query("SELECT * FROM api_tokens WHERE hash = ?", [hashed]))
    return _row(rows[0]) if rows else None


def all_tokens(db: Database) -> list[TokenRow]:
    """Every token, oldest first."""
    return [_row(r) for r in db.query("SELECT * FROM api_tokens ORDER BY id")]


def delete_token(db: Database, name: str) -> bool:
    """Revoke the token called ``name``; False when there is none."""
    return db.execute("DELETE FROM api_tokens WHERE name = ?", [name]).rowcount > 0


def mark_token_used(db: Database, token_id: int, now: datetime) -> None:
    """Remember when a token was last used."""
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [to_db_time(now), token_id])


def _row(r: dict[str, object]) -> TokenRow:
    scopes = tuple(s for s in str(r["scopes"]).split(",") if s)
    return TokenRow(
        int(str(r["id"])), str(r["name"]), scopes, str(r["created_at"]), str(r["last_used_at"])
    )
