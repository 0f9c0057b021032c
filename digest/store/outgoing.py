"""One-off emails waiting for the relay: built once when asked for, sent later by whoever
runs next (the web side, `process-mail`, the weekly run), each outcome recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from digest.models import DeliveryStatus
from digest.store.columns import from_db_time, insert_row, to_db_time

# A queued email is tried this many times, then left failed (and counted in `status`).
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class QueuedEmail:
    """One email to send: its bytes as built, its envelope, and how often it was tried."""

    id: int
    kind: str
    recipient: str
    sender: str  # the envelope sender; "" = the configured return path
    message: bytes
    attempts: int
    subscriber_id: int  # 0 when the email is to no subscriber


def queue_email(
    db: Database,
    kind: str,
    recipient: str,
    message: bytes,
    now: datetime,
    *,
    subscriber_id: int | None = None,
    sender: str = "",
) -> int:
    """Queue one built email; its id."""
    stamp = to_db_time(now)
    return insert_row(
        db,
        "outgoing",
        {
            "kind": kind,
            "subscriber_id": subscriber_id,
            "recipient": recipient,
            "sender": sender,
            "message": message,
            "created_at": stamp,
            "updated_at": stamp,
        },
    )


def queued_emails(db: Database, limit: int = 500) -> list[QueuedEmail]:
    """Emails still to try (pending, or deferred fewer than MAX_ATTEMPTS times), oldest
    first."""
    rows = db.query(
        "SELECT id, kind, recipient, sender, message, attempts, subscriber_id FROM outgoing "
        "WHERE status IN ('pending', 'deferred') AND attempts < ? ORDER BY id LIMIT ?",
        [MAX_ATTEMPTS, limit],
    )
    return [
        QueuedEmail(
            r["id"],
            r["kind"],
            r["recipient"],
            r["sender"],
            bytes(r["message"]),
            r["attempts"],
            r["subscriber_id"] or 0,
        )
        for r in rows
    ]


def record_email(db: Database, email_id: int, status: str, error: str, now: datetime) -> None:
    """One outcome, committed at once."""
    db.conn.execute(
        "UPDATE outgoing SET status = ?, last_error = ?, attempts = attempts + 1, "
        "updated_at = ? WHERE id = ?",
        (status, error, to_db_time(now), email_id),
    )
    db.conn.commit()


def outgoing_counts(db: Database) -> dict[str, int]:
    """Queued emails by status ("waiting" for those still to try)."""
    counts: dict[str, int] = {}
    for r in db.query(
        "SELECT status, attempts >= ? AS spent, count(*) AS n FROM outgoing GROUP BY status, spent",
        [MAX_ATTEMPTS],
    ):
        waiting = (
            r["status"] in (DeliveryStatus.PENDING, DeliveryStatus.DEFERRED) and not r["spent"]
        )
        failed = DeliveryStatus.FAILED if r["status"] == DeliveryStatus.DEFERRED else r["status"]
        key = "waiting" if waiting else failed
        counts[key] = counts.get(key, 0) + r["n"]
    return counts


def email_state(db: Database, email_id: int) -> tuple[str, int, datetime] | None:
    """(status, attempts, when last tried or queued) of one queued email."""
    row = db.conn.execute(
        "SELECT status, attempts, updated_at FROM outgoing WHERE id = ?", (email_id,)
    ).fetchone()
    return (str(row[0]), int(row[1]), from_db_time(row[2])) if row else None
