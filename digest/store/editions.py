"""Frozen editions, their rendered variants, and the per-shard send locks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.errors import EditionError
from digest.models import RenderedVariant
from digest.store.columns import from_db_time, insert_row, to_db_time, transaction
from digest.store.deliveries import delivery_counts
from digest.store.hooks import record_hook_event


@dataclass(frozen=True)
class EditionRow:
    """An edition as stored: its frozen payload and state."""

    id: int
    week: str
    subject: str
    payload: dict[str, Any]
    status: str
    created_at: str
    finished_at: str | None


def get_edition(db: Database, week: str) -> EditionRow | None:
    """The frozen edition of ``week``, if there is one."""
    rows = list(db.query("SELECT * FROM editions WHERE week = ?", [week]))
    return _edition_row(rows[0]) if rows else None


def _edition_row(r: dict[str, Any]) -> EditionRow:
    return EditionRow(
        r["id"],
        r["week"],
        r["subject"],
        json.loads(r["payload"]),
        r["status"],
        r["created_at"],
        r["finished_at"],
    )


def freeze_edition(
    db: Database,
    week: str,
    payload: dict[str, Any],
    variants: Iterable[RenderedVariant],
    now: datetime,
    skipped: Mapping[str, str] | None = None,
) -> int:
    """Store the edition, its variants and one delivery per active subscriber whose
    topic choice was rendered: pending, or skipped with the reason ``skipped`` gives
    for that choice. ``variants`` is read once, one at a time (`staged_variants`
    streams them, so no more than one is held).

    One transaction: either the whole ledger exists or none of it. A second freeze of
    the same week fails on the unique week, which is what keeps two senders apart.
    """
    stamp = to_db_time(now)
    by_key: list[str] = []
    try:
        with transaction(db):
            edition_id = insert_row(
                db,
                "editions",
                {
                    "week": week,
                    "subject": "",
                    "payload": json.dumps(payload),
                    "status": "frozen",
                    "created_at": stamp,
                },
            )
            for v in variants:
                if not by_key:
                    db.execute(
                        "UPDATE editions SET subject = ? WHERE id = ?", [v.subject, edition_id]
                    )
                by_key.append(v.key)
                db.execute(
                    "INSERT INTO edition_variants (edition_id, key, subject, html, text, "
                    "article_count, slots) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [edition_id, v.key, v.subject, v.html, v.text, v.article_count, v.slots],
                )
            # Only choices that were rendered: one who joined a moment ago with a new
            # choice waits for next week rather than getting a body nobody checked.
            marks = ",".join("?" * len(by_key))
            db.execute(
                "INSERT INTO deliveries (edition_id, subscriber_id, variant, status, "
                "updated_at) SELECT ?, id, topics, 'pending', ? FROM subscribers "
                f"WHERE status = 'active' AND topics IN ({marks}) ORDER BY id",
                [edition_id, stamp, *by_key],
            )
            for key, reason in (skipped or {}).items():
                _mark_skipped(db, edition_id, key, reason, stamp)
            record_hook_event(db, "edition.frozen", {"edition_id": edition_id, "week": week}, now)
    except sqlite3.IntegrityError as e:
        raise EditionError(
            f"Edition {week} was frozen by another run at the same moment; "
            "run `send` again to continue it."
        ) from e
    return edition_id


def _mark_skipped(db: Database, edition_id: int, key: str, reason: str, stamp: str) -> None:
    db.execute(
        "UPDATE deliveries SET status = 'skipped', last_error = ?, updated_at = ? "
        "WHERE edition_id = ? AND variant = ?",
        [reason, stamp, edition_id, key],
    )


def edition_variants(db: Database, edition_id: int) -> dict[str, RenderedVariant]:
    """The rendered variants of a frozen edition, by topic-choice key."""
    rows = db.query("SELECT * FROM edition_variants WHERE edition_id = ?", [edition_id])
    return {
        r["key"]: RenderedVariant(
            r["key"], r["subject"], r["html"], r["text"], r["article_count"], slots=r["slots"]
        )
        for r in rows
    }


STAGED_VARIANTS = "temp.staged_variants"


def open_variant_stage(db: Database) -> None:
    """An empty stage for the variants a send renders before it freezes them (SQLite's
    temp database: this connection only, spilled to disk, no lock on the store)."""
    db.conn.execute(f"DROP TABLE IF EXISTS {STAGED_VARIANTS}")
    db.conn.execute(
        f"""CREATE TABLE {STAGED_VARIANTS} (
            key TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            article_count INTEGER NOT NULL,
            slots TEXT NOT NULL
        )"""
    )


def stage_variant(db: Database, v: RenderedVariant) -> None:
    """Keep one rendered variant's bodies in the stage until the freeze."""
    with db.atomic():
        db.conn.execute(
            f"INSERT OR REPLACE INTO {STAGED_VARIANTS} VALUES (?, ?, ?, ?, ?, ?)",
            (v.key, v.subject, v.html, v.text, v.article_count, v.slots),
        )


def staged_variants(db: Database, keys: Iterable[str]) -> Iterator[RenderedVariant]:
    """The staged variants of ``keys``, read one at a time."""
    for key in keys:
        row = db.conn.execute(
            f"SELECT key, subject, html, text, article_count, slots FROM {STAGED_VARIANTS} "
            "WHERE key = ?",
            (key,),
        ).fetchone()
        if row is not None:
            yield RenderedVariant(row[0], row[1], row[2], row[3], row[4], slots=row[5])


def close_variant_stage(db: Database) -> None:
    """Drop the stage."""
    db.conn.execute(f"DROP TABLE IF EXISTS {STAGED_VARIANTS}")


def edition_variant_keys(db: Database, edition_id: int) -> list[str]:
    """The topic-choice keys of a frozen edition's variants, in key order."""
    rows = db.conn.execute(
        "SELECT key FROM edition_variants WHERE edition_id = ? ORDER BY key", (edition_id,)
    )
    return [str(r[0]) for r in rows]


def edition_variant(db: Database, edition_id: int, key: str) -> RenderedVariant | None:
    """One rendered variant of a frozen edition (a sender holds one at a time)."""
    rows = list(
        db.query(
            "SELECT * FROM edition_variants WHERE edition_id = ? AND key = ?", [edition_id, key]
        )
    )
    if not rows:
        return None
    r = rows[0]
    return RenderedVariant(
        r["key"], r["subject"], r["html"], r["text"], r["article_count"], slots=r["slots"]
    )


def insert_lock(db: Database, edition_id: int, shard: str, owner: str, expires: datetime) -> bool:
    """Create the lock row of an edition's shard; False when one exists already."""
    inserted = db.execute(
        "INSERT OR IGNORE INTO edition_locks (edition_id, shard, owner, expires) "
        "VALUES (?, ?, ?, ?)",
        [edition_id, shard, owner, to_db_time(expires)],
    )
    return inserted.rowcount == 1


def lock_holder(db: Database, edition_id: int, shard: str) -> tuple[str, datetime] | None:
    """(owner, lease end) of an edition's shard lock, or None when nobody holds it."""
    rows = list(
        db.query(
            "SELECT owner, expires FROM edition_locks WHERE edition_id = ? AND shard = ?",
            [edition_id, shard],
        )
    )
    return (str(rows[0]["owner"]), from_db_time(rows[0]["expires"])) if rows else None


def edition_locks(db: Database, edition_id: int) -> list[tuple[str, str, datetime]]:
    """(shard, owner, lease end) of every lock row of an edition."""
    rows = db.query(
        "SELECT shard, owner, expires FROM edition_locks WHERE edition_id = ?", [edition_id]
    )
    return [(str(r["shard"]), str(r["owner"]), from_db_time(r["expires"])) for r in rows]


def swap_lock_holder(
    db: Database, edition_id: int, shard: str, old: str, new: str, expires: datetime
) -> bool:
    """Compare-and-swap the holder: True only if ``old`` still held it, so two takers
    cannot both win."""
    taken = db.execute(
        "UPDATE edition_locks SET owner = ?, expires = ? "
        "WHERE edition_id = ? AND shard = ? AND owner = ?",
        [new, to_db_time(expires), edition_id, shard, old],
    )
    return taken.rowcount == 1


def renew_lock(db: Database, edition_id: int, shard: str, owner: str, expires: datetime) -> None:
    """Extend the lease of a lock this sender holds."""
    db.execute(
        "UPDATE edition_locks SET expires = ? WHERE edition_id = ? AND shard = ? AND owner = ?",
        [to_db_time(expires), edition_id, shard, owner],
    )


def release_lock(db: Database, edition_id: int, shard: str, owner: str) -> None:
    """Give the send lock back."""
    db.execute(
        "DELETE FROM edition_locks WHERE edition_id = ? AND shard = ? AND owner = ?",
        [edition_id, shard, owner],
    )


def mark_edition_sent(db: Database, edition_id: int, now: datetime) -> None:
    """Record that no delivery of the edition is left to attempt."""
    with transaction(db):
        changed = db.execute(
            "UPDATE editions SET status = 'sent', finished_at = ? WHERE id = ? "
            "AND status != 'sent'",
            [to_db_time(now), edition_id],
        ).rowcount
        if changed:
            week = db.conn.execute(
                "SELECT week FROM editions WHERE id = ?", (edition_id,)
            ).fetchone()[0]
            record_hook_event(db, "edition.sent", {"edition_id": edition_id, "week": week}, now)


def edition_before(db: Database, week: str) -> EditionRow | None:
    """The newest edition of a week before ``week`` (ISO labels sort by time)."""
    rows = list(
        db.query("SELECT * FROM editions WHERE week < ? ORDER BY week DESC LIMIT 1", [week])
    )
    return _edition_row(rows[0]) if rows else None


def list_editions(db: Database) -> list[tuple[EditionRow, dict[str, int]]]:
    """Every edition, newest week first, with its delivery counts."""
    rows = [_edition_row(r) for r in db.query("SELECT * FROM editions ORDER BY week DESC")]
    return [(row, delivery_counts(db, row.id)) for row in rows]


def held_locks(db: Database, now: datetime) -> list[tuple[str, str]]:
    """(edition week, owner) of every lock whose lease has not run out: a send going on."""
    rows = db.query(
        "SELECT e.week, l.owner FROM edition_locks l JOIN editions e ON e.id = l.edition_id "
        "WHERE l.expires >= ?",
        [to_db_time(now)],
    )
    return [(str(r["week"]), str(r["owner"])) for r in rows]
