"""Sign-ups: each request to join, until it is confirmed or expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from digest.store.columns import from_db_time, insert_row, to_db_time


@dataclass(frozen=True)
class SignupRow:
    """One request to join, as stored."""

    id: int
    subscriber_id: int
    email: str
    name: str
    topics: tuple[str, ...]
    previous_status: str
    requested_at: datetime
    confirmed_at: datetime | None


def add_signup(
    db: Database,
    subscriber_id: int,
    email: str,
    name: str,
    topics: str,
    previous_status: str,
    client: str,
    emailed: bool,
    now: datetime,
    mailbox: str = "",
) -> int:
    """Record a request to join; return its id. ``mailbox`` is the folded address the
    per-address limit counts (default: the address in lower case)."""
    return insert_row(
        db,
        "signups",
        {
            "subscriber_id": subscriber_id,
            "email": email,
            "mailbox": mailbox or email.lower(),
            "name": name,
            "topics": topics,
            "previous_status": previous_status,
            "client": client,
            "emailed": int(emailed),
            "requested_at": to_db_time(now),
        },
    )


def get_signup(db: Database, signup_id: int) -> SignupRow | None:
    """One sign-up by id."""
    rows = list(db.query("SELECT * FROM signups WHERE id = ?", [signup_id]))
    if not rows:
        return None
    r = rows[0]
    return SignupRow(
        r["id"],
        r["subscriber_id"],
        r["email"],
        r["name"],
        tuple(t for t in r["topics"].split(",") if t),
        r["previous_status"],
        from_db_time(r["requested_at"]),
        from_db_time(r["confirmed_at"]) if r["confirmed_at"] else None,
    )


def first_previous_status(db: Database, subscriber_id: int) -> str:
    """A subscriber's status before their first sign-up ('' when new), for expiry."""
    row = db.conn.execute(
        "SELECT previous_status FROM signups WHERE subscriber_id = ? ORDER BY id LIMIT 1",
        (subscriber_id,),
    ).fetchone()
    return str(row[0]) if row else ""


def mark_confirmed(db: Database, signup_id: int, now: datetime) -> None:
    """Record when a sign-up was confirmed (the first time)."""
    db.execute(
        "UPDATE signups SET confirmed_at = ? WHERE id = ? AND confirmed_at IS NULL",
        [to_db_time(now), signup_id],
    )


def emails_sent_since(db: Database, mailbox: str, since: datetime) -> int:
    """How many sign-up emails went to one mailbox (however it was spelled) since
    ``since``."""
    row = db.conn.execute(
        "SELECT count(*) FROM signups WHERE mailbox = ? AND emailed = 1 AND requested_at >= ?",
        (mailbox, to_db_time(since)),
    ).fetchone()
    return int(row[0])


def newer_signup(db: Database, signup_id: int, subscriber_id: int) -> bool:
    """Whether the subscriber asked again after sign-up ``signup_id``."""
    row = db.conn.execute(
        "SELECT 1 FROM signups WHERE subscriber_id = ? AND id > ?", (subscriber_id, signup_id)
    ).fetchone()
    return row is not None


def signups_from_client_since(db: Database, client: str, since: datetime) -> int:
    """How many sign-ups came from one client (its keyed hash) since ``since``."""
    row = db.conn.execute(
        "SELECT count(*) FROM signups WHERE client = ? AND requested_at >= ?",
        (client, to_db_time(since)),
    ).fetchone()
    return int(row[0])


def expired_pending(db: Database, before: datetime) -> list[tuple[int, str]]:
    """(subscriber id, status before the sign-up) of pending subscribers whose latest
    sign-up was requested before ``before`` and never confirmed."""
    rows = db.query(
        "SELECT s.id AS subscriber_id, g.previous_status FROM subscribers s "
        "JOIN signups g ON g.id = (SELECT max(id) FROM signups WHERE subscriber_id = s.id) "
        "WHERE s.status = 'pending' AND g.confirmed_at IS NULL AND g.requested_at < ?",
        [to_db_time(before)],
    )
    return [(r["subscriber_id"], r["previous_status"]) for r in rows]
