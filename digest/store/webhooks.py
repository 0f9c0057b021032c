"""Webhook deliveries already taken, so a replay changes nothing twice."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from sqlite_utils import Database

from digest.store.columns import to_db_time

# How long a taken event is remembered; providers retry for hours, not weeks.
KEEP = timedelta(days=30)


def take_webhook_event(db: Database, provider: str, event_id: str, now: datetime) -> bool:
    """Remember ``event_id`` of ``provider``; False when it was taken before (a replay).
    Events older than `KEEP` are forgotten on the way."""
    db.execute("DELETE FROM webhook_events WHERE received_at < ?", [to_db_time(now - KEEP)])
    try:
        db.execute(
            "INSERT INTO webhook_events (provider, event_id, received_at) VALUES (?, ?, ?)",
            [provider, event_id, to_db_time(now)],
        )
    except sqlite3.IntegrityError:
        return False
    return True
