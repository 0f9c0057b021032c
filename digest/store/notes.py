"""Editors' notes, one per week, kept as the Markdown the editor wrote."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import to_db_time


def set_note(db: Database, week: str, markdown: str, now: datetime) -> None:
    """Write (or replace) the note of ``week``."""
    db.execute(
        "INSERT INTO notes (week, markdown, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (week) DO UPDATE SET markdown = excluded.markdown, "
        "updated_at = excluded.updated_at",
        [week, markdown, to_db_time(now)],
    )


def get_note(db: Database, week: str) -> str:
    """The note of ``week`` as written, or ''."""
    row = db.conn.execute("SELECT markdown FROM notes WHERE week = ?", (week,)).fetchone()
    return str(row[0]) if row else ""


def clear_note(db: Database, week: str) -> bool:
    """Remove the note of ``week``; False when there was none."""
    return db.execute("DELETE FROM notes WHERE week = ?", [week]).rowcount > 0
