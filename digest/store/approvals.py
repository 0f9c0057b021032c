"""Held editions: when the editors were asked, and who approved."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import from_db_time, to_db_time, transaction
from digest.store.hooks import record_hook_event


def request_approval(db: Database, week: str, now: datetime) -> bool:
    """Record that ``week`` waits for approval; False when it already did."""
    with transaction(db):
        cursor = db.execute(
            "INSERT OR IGNORE INTO approvals (week, requested_at) VALUES (?, ?)",
            [week, to_db_time(now)],
        )
        if cursor.rowcount == 1:
            record_hook_event(db, "edition.held", {"week": week}, now)
    return cursor.rowcount == 1


def approval(db: Database, week: str) -> tuple[datetime, datetime | None] | None:
    """(requested at, approved at) for a held week, or None if it was never held."""
    rows = list(db.query("SELECT * FROM approvals WHERE week = ?", [week]))
    if not rows:
        return None
    approved = rows[0]["approved_at"]
    return from_db_time(rows[0]["requested_at"]), from_db_time(approved) if approved else None


def approve(db: Database, week: str, by: str, now: datetime) -> None:
    """Approve a held week (idempotent: the first approval stands)."""
    with transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO approvals (week, requested_at) VALUES (?, ?)",
            [week, to_db_time(now)],
        )
        approved = db.execute(
            "UPDATE approvals SET approved_at = ?, approved_by = ? "
            "WHERE week = ? AND approved_at IS NULL",
            [to_db_time(now), by, week],
        ).rowcount
        if approved:
            record_hook_event(db, "edition.approved", {"week": week}, now)
