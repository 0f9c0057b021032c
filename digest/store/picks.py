"""Editors' picks: the article chosen to lead a week, or kept from leading it."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import to_db_time, transaction


def set_pick(db: Database, week: str, url: str, choice: str, now: datetime) -> list[str]:
    """Record ``choice`` ("feature" or "unfeature") for ``url`` in ``week``; featuring
    one article unpicks the week's other lead. The URLs unpicked."""
    with transaction(db):
        dropped: list[str] = []
        if choice == "feature":
            dropped = [
                str(r[0])
                for r in db.conn.execute(
                    "SELECT url FROM picks WHERE week = ? AND choice = 'feature' AND url != ?",
                    (week, url),
                )
            ]
            db.execute(
                "DELETE FROM picks WHERE week = ? AND choice = 'feature' AND url != ?", [week, url]
            )
        db.execute(
            "INSERT INTO picks (week, url, choice, picked_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (week, url) DO UPDATE SET choice = excluded.choice, "
            "picked_at = excluded.picked_at",
            [week, url, choice, to_db_time(now)],
        )
    return dropped


def week_picks(db: Database, week: str) -> dict[str, str]:
    """url -> "feature" or "unfeature" for ``week``."""
    rows = db.conn.execute("SELECT url, choice FROM picks WHERE week = ?", (week,))
    return {str(url): str(choice) for url, choice in rows}
