"""The configured feeds with their conditional-GET validators and error counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import insert_row, to_db_time


@dataclass(frozen=True)
class FeedRow:
    """A configured feed and how its last fetch went."""

    url: str
    topic: str
    etag: str
    modified: str
    last_fetched: str | None
    last_status: str
    error_count: int
    last_error: str


def add_feed(db: Database, url: str, topic: str, now: datetime) -> str:
    """Add a feed (or change its topic); return added, updated or unchanged."""
    rows = list(db.query("SELECT topic FROM feeds WHERE url = ?", [url]))
    if not rows:
        insert_row(db, "feeds", {"url": url, "topic": topic, "created_at": to_db_time(now)})
        return "added"
    if rows[0]["topic"] == topic:
        return "unchanged"
    db.execute("UPDATE feeds SET topic = ? WHERE url = ?", [topic, url])
    return "updated"


def remove_feed(db: Database, url: str) -> bool:
    """Forget a feed (its articles stay); False when it was not configured."""
    return db.execute("DELETE FROM feeds WHERE url = ?", [url]).rowcount > 0


def list_feeds(db: Database) -> list[FeedRow]:
    """Every configured feed, in the order they were added."""
    return [
        FeedRow(
            r["url"],
            r["topic"],
            r["etag"],
            r["modified"],
            r["last_fetched"],
            r["last_status"],
            r["error_count"],
            r["last_error"],
        )
        for r in db.query("SELECT * FROM feeds ORDER BY id")
    ]


def record_feed_fetch(
    db: Database, url: str, status: str, error: str, etag: str, modified: str, now: datetime
) -> None:
    """Keep the validators for the next conditional GET and count failures in a row."""
    db.execute(
        "UPDATE feeds SET last_fetched = ?, last_status = ?, last_error = ?, etag = ?, "
        "modified = ?, error_count = CASE WHEN ? = 'error' THEN error_count + 1 ELSE 0 END "
        "WHERE url = ?",
        [to_db_time(now), status, error, etag, modified, status, url],
    )
