"""Subscribers and their events: the list and its consent record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.addresses import mailbox_key
from digest.models import Subscriber, SubscriberStatus, slugify
from digest.store.columns import from_db_time, insert_row, to_db_time, transaction
from digest.store.hooks import record_hook_event


def topics_key(topics: Sequence[str]) -> str:
    """The stored form of a topic choice: sorted unique slugs joined by commas."""
    return ",".join(sorted({slugify(t) for t in topics if slugify(t)}))


def insert_subscriber(
    db: Database,
    email: str,
    name: str,
    topics: Sequence[str],
    now: datetime,
    status: str = SubscriberStatus.ACTIVE,
    *,
    created: datetime | None = None,
) -> int:
    """Add a new subscriber (active, or pending a confirmation); return its id.
    ``created`` is when they subscribed, when that was elsewhere (an import)."""
    stamp = to_db_time(now)
    return insert_row(
        db,
        "subscribers",
        {
            "email": email,
            "mailbox": mailbox_key(email),
            "name": name,
            "topics": topics_key(topics),
            "status": status,
            "created_at": to_db_time(created) if created else stamp,
            "updated_at": stamp,
        },
    )


def update_profile(
    db: Database, subscriber_id: int, name: str, topics: Sequence[str], now: datetime
) -> None:
    """Set a subscriber's display name and topic choice."""
    db.execute(
        "UPDATE subscribers SET name = ?, topics = ?, updated_at = ? WHERE id = ?",
        [name, topics_key(topics), to_db_time(now), subscriber_id],
    )


def set_subscriber_status(
    db: Database, email: str, status: str, now: datetime, source: str = "cli"
) -> bool:
    """Set a subscriber's status; False when no such address is on the list."""
    found = get_subscriber(db, email)
    if found is None:
        return False
    change_subscriber(db, found.id, now, source, status=status)
    return True


def change_subscriber(
    db: Database,
    subscriber_id: int,
    now: datetime,
    source: str,
    *,
    status: str | None = None,
    topics: Sequence[str] | None = None,
    event: str = "",
    detail: str = "",
    edition_id: int | None = None,
) -> bool:
    """Change status and/or topic choice, logging the event (named after the new status,
    unless ``event`` names it, e.g. ``complaint``); False when nothing changed. The row
    is read and changed under the write lock, so no change made meanwhile is lost."""
    with transaction(db):
        current = get_subscriber_by_id(db, subscriber_id)
        if current is None:
            return False
        new_status = status or current.status
        new_topics = topics_key(topics) if topics is not None else ",".join(current.topics)
        if new_status == current.status and new_topics == ",".join(current.topics):
            return False
        stamp = to_db_time(now)
        db.execute(
            "UPDATE subscribers SET status = ?, topics = ?, updated_at = ? WHERE id = ?",
            [new_status, new_topics, stamp, subscriber_id],
        )
        name = event or (new_status if new_status != current.status else "topics")
        add_event(db, subscriber_id, name, source, now, detail, edition_id)
        reported = _hook_type(current.status, new_status, name)
        if reported:
            record_hook_event(
                db,
                reported,
                {
                    "subscriber_id": subscriber_id,
                    "email": current.email,
                    "status": new_status,
                    "previous_status": str(current.status),
                    "source": source,
                },
                now,
            )
    return True


def _hook_type(old: str, new: str, event: str) -> str:
    """The webhook event a change of status is (empty: none): joining (confirmed),
    leaving, a hard bounce, a complaint. A pending sign-up that expires is no news."""
    if old == new or event == "expired":
        return ""
    if event == "complaint":
        return "subscriber.complained"
    return {
        SubscriberStatus.ACTIVE: "subscriber.confirmed",
        SubscriberStatus.UNSUBSCRIBED: "subscriber.unsubscribed",
        SubscriberStatus.BOUNCED: "subscriber.bounced",
    }.get(SubscriberStatus(new), "")


def add_event(
    db: Database,
    subscriber_id: int,
    event: str,
    source: str,
    now: datetime,
    detail: str = "",
    edition_id: int | None = None,
) -> int:
    """Record an event that changes no status (a soft bounce, a probe sent); its id."""
    cursor = db.execute(
        "INSERT INTO subscriber_events (subscriber_id, event, source, at, detail, edition_id) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [subscriber_id, event, source, to_db_time(now), detail, edition_id],
    )
    return int(cursor.lastrowid or 0)


def event_of(db: Database, event_id: int) -> tuple[int, str] | None:
    """(subscriber id, event name) of one event, if it exists."""
    row = db.conn.execute(
        "SELECT subscriber_id, event FROM subscriber_events WHERE id = ?", (event_id,)
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def last_event_at(db: Database, subscriber_id: int, event: str) -> datetime | None:
    """When ``event`` last happened to a subscriber, if ever."""
    row = db.conn.execute(
        "SELECT max(at) FROM subscriber_events WHERE subscriber_id = ? AND event = ?",
        (subscriber_id, event),
    ).fetchone()
    return from_db_time(row[0]) if row and row[0] else None


def soft_bounce_editions(db: Database, subscriber_id: int) -> int:
    """From how many different editions a subscriber's soft bounces came (a bounce
    that named no edition counts as one of its own)."""
    row = db.conn.execute(
        "SELECT count(DISTINCT coalesce(edition_id, -id)) FROM subscriber_events "
        "WHERE subscriber_id = ? AND event = 'soft-bounce'",
        (subscriber_id,),
    ).fetchone()
    return int(row[0])


def soft_bounced_in(db: Database, subscriber_id: int, edition_id: int) -> bool:
    """Whether a soft bounce of this edition is counted for the subscriber already."""
    row = db.conn.execute(
        "SELECT 1 FROM subscriber_events WHERE subscriber_id = ? AND event = 'soft-bounce' "
        "AND edition_id = ?",
        (subscriber_id, edition_id),
    ).fetchone()
    return row is not None


# Events that change what a reader is: each one spends older confirmation links.
STATUS_EVENTS = ("active", "confirmed", "unsubscribed", "bounced", "complaint")


def status_changed_since(db: Database, subscriber_id: int, since: datetime) -> bool:
    """Whether the reader's status changed (joined, left, bounced, complained) after
    ``since``."""
    marks = ", ".join("?" * len(STATUS_EVENTS))
    row = db.conn.execute(
        f"SELECT 1 FROM subscriber_events WHERE subscriber_id = ? AND at > ? "
        f"AND event IN ({marks})",
        (subscriber_id, to_db_time(since), *STATUS_EVENTS),
    ).fetchone()
    return row is not None


def left_by_complaint(db: Database, subscriber_id: int) -> bool:
    """Whether the reader's last change of status was a complaint."""
    marks = ", ".join("?" * len(STATUS_EVENTS))
    row = db.conn.execute(
        f"SELECT event FROM subscriber_events WHERE subscriber_id = ? AND event IN ({marks}) "
        "ORDER BY id DESC LIMIT 1",
        (subscriber_id, *STATUS_EVENTS),
    ).fetchone()
    return row is not None and row[0] == "complaint"


RETURN_EVENTS = ("bounced", "soft-bounce", "complaint")

# What a reader does that shows they want the newsletter (`readers.sunset`): confirming
# a sign-up, coming back (a resubscribe, `subscribers reactivate` on their request), a
# button of the preferences page, the re-permission email's "keep sending" link. Opens
# and link fetches are never among them: digest follows nobody, and mail scanners fetch
# every link.
SIGNS_OF_LIFE = ("confirmed", "active", "topics", "preferences", "kept")
SUNSET_ASKED = "sunset-asked"


@dataclass(frozen=True)
class SunsetFacts:
    """What the sunset knows of one active reader: when they joined, how many editions
    reached them, when the window of the last ``needed`` of them began, their last sign
    of life, and their last re-permission email (the ask event and its detail)."""

    id: int
    email: str
    joined: datetime
    delivered: int
    window_start: datetime | None  # the oldest edition of the window (None: none yet)
    last_life: datetime | None
    ask_id: int | None
    asked_at: datetime | None
    ask_detail: str


def sunset_facts(db: Database, needed: int) -> list[SunsetFacts]:
    """`SunsetFacts` of every active reader, in id order; the window is the last
    ``needed`` editions delivered (sent) to each, or all of them when fewer."""
    marks = ", ".join("?" * len(SIGNS_OF_LIFE))
    rows = db.conn.execute(
        "WITH ranked AS (SELECT d.subscriber_id AS sid, e.created_at AS at, "
        "row_number() OVER (PARTITION BY d.subscriber_id ORDER BY e.id DESC) AS rn, "
        "count(*) OVER (PARTITION BY d.subscriber_id) AS n FROM deliveries d "
        "JOIN editions e ON e.id = d.edition_id WHERE d.status = 'sent'), "
        "windows AS (SELECT sid, n, at FROM ranked WHERE rn = min(n, ?)), "
        f"life AS (SELECT subscriber_id AS sid, max(at) AS at FROM subscriber_events "
        f"WHERE event IN ({marks}) GROUP BY subscriber_id), "
        "asks AS (SELECT subscriber_id AS sid, max(id) AS id FROM subscriber_events "
        "WHERE event = ? GROUP BY subscriber_id) "
        "SELECT s.id, s.email, s.created_at, coalesce(w.n, 0), w.at, l.at, a.id, e.at, "
        "coalesce(e.detail, '') FROM subscribers s LEFT JOIN windows w ON w.sid = s.id "
        "LEFT JOIN life l ON l.sid = s.id LEFT JOIN asks a ON a.sid = s.id "
        "LEFT JOIN subscriber_events e ON e.id = a.id WHERE s.status = 'active' ORDER BY s.id",
        (needed, *SIGNS_OF_LIFE, SUNSET_ASKED),
    ).fetchall()
    return [
        SunsetFacts(
            int(r[0]),
            str(r[1]),
            from_db_time(r[2]),
            int(r[3]),
            from_db_time(r[4]) if r[4] else None,
            from_db_time(r[5]) if r[5] else None,
            int(r[6]) if r[6] is not None else None,
            from_db_time(r[7]) if r[7] else None,
            str(r[8]),
        )
        for r in rows
    ]


def sunset_marks(
    db: Database, subscriber_id: int
) -> tuple[str | None, datetime | None, int | None]:
    """(status, last sign of life, last ask's id) of one reader, by the events index:
    what may have changed since the sunset planned (a click, another run's ask)."""
    marks = ", ".join("?" * len(SIGNS_OF_LIFE))
    row = db.conn.execute(
        "SELECT (SELECT status FROM subscribers WHERE id = ?), "
        f"(SELECT max(at) FROM subscriber_events WHERE subscriber_id = ? AND event IN ({marks})), "
        "(SELECT max(id) FROM subscriber_events WHERE subscriber_id = ? AND event = ?)",
        (subscriber_id, subscriber_id, *SIGNS_OF_LIFE, subscriber_id, SUNSET_ASKED),
    ).fetchone()
    return (
        None if row[0] is None else str(row[0]),
        from_db_time(row[1]) if row[1] else None,
        None if row[2] is None else int(row[2]),
    )


def ask_of(db: Database, ask_id: int) -> tuple[int, datetime] | None:
    """(subscriber id, when) of a re-permission ask, if that event is one."""
    row = db.conn.execute(
        "SELECT subscriber_id, at FROM subscriber_events WHERE id = ? AND event = ?",
        (ask_id, SUNSET_ASKED),
    ).fetchone()
    return (int(row[0]), from_db_time(row[1])) if row else None


def set_event_detail(db: Database, event_id: int, detail: str) -> None:
    """Say more on an event already recorded (the queued email an ask sent)."""
    db.execute("UPDATE subscriber_events SET detail = ? WHERE id = ?", [detail, event_id])


def return_counts_by_edition(db: Database) -> dict[int, dict[str, int]]:
    """{edition id: {event: n}} of hard bounces, soft bounces and complaints."""
    return _return_counts(db, "edition_id")


def subscribers_with_returns(
    db: Database, status: str | None = None
) -> Iterator[tuple[Subscriber, dict[str, int]]]:
    """Subscribers in id order (optionally of one status), each with {event: n} of the
    hard bounces, soft bounces and complaints that came back: one pass, streamed."""
    counts = ", ".join(
        f"(SELECT count(*) FROM subscriber_events e WHERE e.subscriber_id = s.id "
        f"AND e.event = '{event}') AS \"{event}\""
        for event in RETURN_EVENTS
    )
    where = "WHERE s.status = ?" if status else ""
    cursor = db.conn.execute(
        f"SELECT s.*, {counts} FROM subscribers s {where} ORDER BY s.id",
        [status] if status else [],
    )
    names = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(names, values, strict=True))
        yield subscriber_from_row(row), {e: row[e] for e in RETURN_EVENTS if row[e]}


def return_counts_by_subscriber(db: Database) -> dict[int, dict[str, int]]:
    """{subscriber id: {event: n}} of hard bounces, soft bounces and complaints."""
    return _return_counts(db, "subscriber_id")


def _return_counts(db: Database, key: str) -> dict[int, dict[str, int]]:
    marks = ", ".join("?" * len(RETURN_EVENTS))
    rows = db.query(
        f"SELECT {key} AS k, event, count(*) AS n FROM subscriber_events "
        f"WHERE event IN ({marks}) AND {key} IS NOT NULL GROUP BY {key}, event",
        list(RETURN_EVENTS),
    )
    counts: dict[int, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r["k"], {})[r["event"]] = r["n"]
    return counts


def subscriber_events(db: Database, subscriber_id: int) -> list[tuple[str, str]]:
    """(event, source) pairs for one subscriber, oldest first."""
    rows = db.query(
        "SELECT event, source FROM subscriber_events WHERE subscriber_id = ? ORDER BY id",
        [subscriber_id],
    )
    return [(r["event"], r["source"]) for r in rows]


def subscriber_status(db: Database, subscriber_id: int) -> str | None:
    """The status of one subscriber by primary key (None when erased): cheap enough to
    ask right before each message goes out."""
    row = db.conn.execute(
        "SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)
    ).fetchone()
    return str(row[0]) if row else None


def get_subscriber_by_id(db: Database, subscriber_id: int) -> Subscriber | None:
    """The subscriber with this id."""
    row = _one_row(db, "SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))
    return subscriber_from_row(row) if row else None


def _one_row(db: Database, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    """One row as a dict, straight from the connection: a page's read, without the
    savepoint sqlite-utils' ``query`` wraps around every statement."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def delete_subscriber(db: Database, email: str) -> bool:
    """Erase a subscriber and their delivery history; False when not on the list."""
    cursor = db.execute("DELETE FROM subscribers WHERE email = ? COLLATE NOCASE", [email])
    return cursor.rowcount > 0


def delete_subscriber_by_id(db: Database, subscriber_id: int) -> bool:
    """Erase a subscriber by id (with their events, sign-ups and deliveries)."""
    return db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber_id]).rowcount > 0


def get_subscriber(db: Database, email: str) -> Subscriber | None:
    """The subscriber with this address, any case."""
    rows = list(db.query("SELECT * FROM subscribers WHERE email = ? COLLATE NOCASE", [email]))
    return subscriber_from_row(rows[0]) if rows else None


def subscribers_of_mailbox(db: Database, email: str) -> list[Subscriber]:
    """Every subscriber whose address reaches the same mailbox as ``email`` (any
    spelling: `addresses.mailbox_key`), those who left first."""
    rows = db.query(
        "SELECT * FROM subscribers WHERE mailbox = ? "
        "ORDER BY status IN ('unsubscribed', 'bounced', 'lapsed') DESC, id",
        [mailbox_key(email)],
    )
    return [subscriber_from_row(r) for r in rows]


def iter_subscribers(db: Database, status: str | None = None) -> Iterator[Subscriber]:
    """Subscribers in id order, optionally of one status."""
    if status:
        rows = db.query("SELECT * FROM subscribers WHERE status = ? ORDER BY id", [status])
    else:
        rows = db.query("SELECT * FROM subscribers ORDER BY id")
    return (subscriber_from_row(r) for r in rows)


def count_with_status(db: Database, status: str) -> int:
    """How many subscribers have ``status``."""
    row = db.conn.execute("SELECT count(*) FROM subscribers WHERE status = ?", (status,))
    return int(row.fetchone()[0])


def active_topic_choices(db: Database) -> list[str]:
    """The distinct topic choices of active subscribers: one variant each."""
    rows = db.query("SELECT DISTINCT topics FROM subscribers WHERE status = 'active'")
    return sorted(r["topics"] for r in rows)


def active_choice_counts(db: Database) -> dict[str, int]:
    """How many active subscribers made each topic choice (the variant keys)."""
    rows = db.query(
        "SELECT topics, count(*) AS n FROM subscribers WHERE status = 'active' GROUP BY topics"
    )
    return {r["topics"]: r["n"] for r in rows}


def active_with_choices(db: Database, keys: Sequence[str]) -> list[tuple[str, str]]:
    """(email, topic choice) of the active subscribers who made one of ``keys``."""
    marks = ", ".join("?" * len(keys))
    rows = db.query(
        f"SELECT email, topics FROM subscribers WHERE status = 'active' AND topics IN ({marks}) "
        "ORDER BY id",
        list(keys),
    )
    return [(r["email"], r["topics"]) for r in rows]


def subscriber_from_row(r: dict[str, Any]) -> Subscriber:
    topics = tuple(t for t in r["topics"].split(",") if t)
    return Subscriber(r["id"], r["email"], r["name"], SubscriberStatus(r["status"]), topics)


def bounce_subscribers(db: Database, subscriber_ids: Sequence[int], now: datetime) -> None:
    """Mark subscribers bounced: they are never sent to again."""
    for subscriber_id in subscriber_ids:
        change_subscriber(db, subscriber_id, now, "smtp", status=SubscriberStatus.BOUNCED)


def returned_by_domain(
    db: Database, edition_id: int, event: str, exclude_detail: str = ""
) -> dict[str, int]:
    """{recipient domain (lower-case): readers with ``event`` for one edition} among the
    readers whose copy was accepted; events whose detail starts with ``exclude_detail``
    are left out."""
    rows = db.conn.execute(
        "SELECT lower(substr(s.email, instr(s.email, '@') + 1)) AS domain, "
        "count(DISTINCT e.subscriber_id) FROM subscriber_events e "
        "JOIN subscribers s ON s.id = e.subscriber_id "
        "JOIN deliveries d ON d.edition_id = e.edition_id AND d.subscriber_id = e.subscriber_id "
        "WHERE e.edition_id = ? AND e.event = ? AND d.status = 'sent' "
        "AND (? = '' OR substr(e.detail, 1, length(?)) != ?) GROUP BY domain",
        [edition_id, event, exclude_detail, exclude_detail, exclude_detail],
    ).fetchall()
    return {str(domain): int(n) for domain, n in rows}


def subscribers_changed_after(
    db: Database, after: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """(change_seq, row) of the subscribers changed after ``after``, in the order of
    change, at most ``limit``; one deleted since is ``{"id", "gone": True}``."""
    rows = db.query(
        "SELECT * FROM subscribers WHERE change_seq > ? ORDER BY change_seq LIMIT ?",
        [after, limit],
    )
    found = [(int(r["change_seq"]), dict(r)) for r in rows]
    gone = db.query(
        "SELECT change_seq, subscriber_id FROM subscribers_gone WHERE change_seq > ? "
        "ORDER BY change_seq LIMIT ?",
        [after, limit],
    )
    found += [(int(r["change_seq"]), {"id": r["subscriber_id"], "gone": True}) for r in gone]
    return sorted(found, key=lambda pair: pair[0])[:limit]
