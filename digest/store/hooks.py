"""Webhooks out: endpoints (secrets, where each is in the stream) and the events.

An event is written by the same transaction as the change it reports (the caller's, or
the savepoint this module opens inside it), and only while an endpoint is enabled: with
no endpoint nothing piles up. Its body is kept as written, so every retry of an event
carries the same bytes under the same ``msg_id``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.store.columns import insert_row, to_db_time


@dataclass(frozen=True)
class Endpoint:
    """One webhook endpoint as stored."""

    id: int
    url: str
    events: tuple[str, ...]
    secret: str
    old_secret: str
    old_until: str
    enabled: bool
    disabled_reason: str
    cursor: int
    attempts: int
    next_attempt_at: str
    last_error: str
    delivered: int


@dataclass(frozen=True)
class HookEvent:
    """One outgoing event: its stable id, type and body."""

    id: int
    msg_id: str
    type: str
    body: str


def record_hook_event(db: Database, type_: str, data: dict[str, Any], now: datetime) -> int:
    """Write one event in the current transaction (0: no endpoint is enabled)."""
    if db.conn.execute("SELECT 1 FROM hook_endpoints WHERE enabled = 1").fetchone() is None:
        return 0
    stamp = to_db_time(now)
    body = json.dumps(
        {"type": type_, "timestamp": stamp, "data": data}, separators=(",", ":"), sort_keys=True
    )
    return insert_row(
        db,
        "hook_events",
        {
            "msg_id": f"msg_{secrets.token_hex(12)}",
            "type": type_,
            "body": body,
            "created_at": stamp,
        },
    )


def insert_endpoint(
    db: Database, url: str, events: tuple[str, ...], secret: str, now: datetime
) -> int:
    """A new endpoint; it starts after the newest event (no history is replayed)."""
    newest = db.conn.execute("SELECT coalesce(max(id), 0) FROM hook_events").fetchone()[0]
    return insert_row(
        db,
        "hook_endpoints",
        {
            "url": url,
            "events": ",".join(events),
            "secret": secret,
            "cursor": int(newest),
            "created_at": to_db_time(now),
        },
    )


def endpoints(db: Database, *, enabled_only: bool = False) -> list[Endpoint]:
    """Every endpoint (or the enabled ones), oldest first."""
    where = "WHERE enabled = 1 " if enabled_only else ""
    return [_endpoint(r) for r in db.query(f"SELECT * FROM hook_endpoints {where}ORDER BY id")]


def endpoint(db: Database, endpoint_id: int) -> Endpoint | None:
    """One endpoint by id."""
    rows = list(db.query("SELECT * FROM hook_endpoints WHERE id = ?", [endpoint_id]))
    return _endpoint(rows[0]) if rows else None


def delete_endpoint(db: Database, endpoint_id: int) -> bool:
    """Remove an endpoint; False when there is none."""
    return db.execute("DELETE FROM hook_endpoints WHERE id = ?", [endpoint_id]).rowcount > 0


def rotate_secret(db: Database, endpoint_id: int, secret: str, old_until: datetime) -> bool:
    """A new secret; the old one is still signed with until ``old_until``."""
    return (
        db.execute(
            "UPDATE hook_endpoints SET old_secret = secret, old_until = ?, secret = ? WHERE id = ?",
            [to_db_time(old_until), secret, endpoint_id],
        ).rowcount
        > 0
    )


def next_event(db: Database, after: int) -> HookEvent | None:
    """The first event after id ``after``."""
    row = db.conn.execute(
        "SELECT id, msg_id, type, body FROM hook_events WHERE id > ? ORDER BY id LIMIT 1",
        (after,),
    ).fetchone()
    return HookEvent(int(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None


def advance(db: Database, endpoint_id: int, event_id: int, delivered: bool) -> None:
    """The endpoint is past ``event_id`` (delivered, or not one of its types)."""
    db.execute(
        "UPDATE hook_endpoints SET cursor = ?, attempts = 0, next_attempt_at = '', "
        "last_error = '', delivered = delivered + ? WHERE id = ? AND cursor < ?",
        [event_id, int(delivered), endpoint_id, event_id],
    )


def failed_attempt(db: Database, endpoint_id: int, error: str, next_at: datetime | None) -> None:
    """An attempt failed: try again at ``next_at``, or (None) disable the endpoint."""
    if next_at is None:
        db.execute(
            "UPDATE hook_endpoints SET enabled = 0, disabled_reason = ?, last_error = ?, "
            "attempts = attempts + 1 WHERE id = ?",
            [error, error, endpoint_id],
        )
        return
    db.execute(
        "UPDATE hook_endpoints SET attempts = attempts + 1, next_attempt_at = ?, "
        "last_error = ? WHERE id = ?",
        [to_db_time(next_at), error, endpoint_id],
    )


def take_lease(db: Database, endpoint_id: int, holder: str, now: datetime, until: datetime) -> bool:
    """Hold an endpoint until ``until`` (or renew a hold): False while another sender
    holds it. A sender killed holding it is outlived by its lease."""
    return (
        db.execute(
            "UPDATE hook_endpoints SET lease_holder = ?, lease_until = ? WHERE id = ? "
            "AND (lease_holder = ? OR lease_until < ?)",
            [holder, to_db_time(until), endpoint_id, holder, to_db_time(now)],
        ).rowcount
        > 0
    )


def release_lease(db: Database, endpoint_id: int, holder: str) -> None:
    """Let go of an endpoint this sender holds."""
    db.execute(
        "UPDATE hook_endpoints SET lease_holder = '', lease_until = '' "
        "WHERE id = ? AND lease_holder = ?",
        [endpoint_id, holder],
    )


def enable_endpoint(db: Database, endpoint_id: int) -> bool:
    """Enable an endpoint again, its retries starting afresh where it stopped."""
    return (
        db.execute(
            "UPDATE hook_endpoints SET enabled = 1, disabled_reason = '', attempts = 0, "
            "next_attempt_at = '' WHERE id = ?",
            [endpoint_id],
        ).rowcount
        > 0
    )


def hook_events_waiting(db: Database) -> int:
    """How many events some enabled endpoint is not past yet."""
    row = db.conn.execute(
        "SELECT count(*) FROM hook_events WHERE id > "
        "(SELECT min(cursor) FROM hook_endpoints WHERE enabled = 1)"
    ).fetchone()
    return int(row[0])


def prune_hook_events(db: Database) -> int:
    """Drop the events every endpoint is past; how many."""
    row = db.conn.execute("SELECT min(cursor) FROM hook_endpoints").fetchone()
    if row is None or row[0] is None:
        return db.execute("DELETE FROM hook_events").rowcount
    return db.execute("DELETE FROM hook_events WHERE id <= ?", [int(row[0])]).rowcount


def _endpoint(r: dict[str, Any]) -> Endpoint:
    return Endpoint(
        id=int(r["id"]),
        url=str(r["url"]),
        events=tuple(e for e in str(r["events"]).split(",") if e),
        secret=str(r["secret"]),
        old_secret=str(r["old_secret"]),
        old_until=str(r["old_until"]),
        enabled=bool(r["enabled"]),
        disabled_reason=str(r["disabled_reason"]),
        cursor=int(r["cursor"]),
        attempts=int(r["attempts"]),
        next_attempt_at=str(r["next_attempt_at"]),
        last_error=str(r["last_error"]),
        delivered=int(r["delivered"]),
    )
