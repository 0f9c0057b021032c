"""The suppression list: keyed hashes of erased readers' mailboxes (never the address)."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import to_db_time


def suppress(db: Database, key: str, reason: str, now: datetime) -> None:
    """Put a mailbox's keyed hash on the list (again: the reason is updated)."""
    db.execute(
        "INSERT INTO suppressions (hash, reason, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (hash) DO UPDATE SET reason = excluded.reason",
        [key, reason, to_db_time(now)],
    )


def is_suppressed(db: Database, key: str) -> bool:
    """Whether a mailbox's keyed hash is on the list."""
    row = db.conn.execute("SELECT 1 FROM suppressions WHERE hash = ?", (key,)).fetchone()
    return row is not None


def unsuppress(db: Database, key: str) -> bool:
    """Take a mailbox off the list (its owner confirmed a fresh sign-up)."""
    return db.execute("DELETE FROM suppressions WHERE hash = ?", [key]).rowcount > 0


def suppression_count(db: Database) -> int:
    """How many erased mailboxes are on the list."""
    return int(db.conn.execute("SELECT count(*) FROM suppressions").fetchone()[0])
