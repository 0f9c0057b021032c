"""Copies of the store: taken with SQLite's online backup API, checked before use."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database


def copy_database(source: Path, target: Path) -> int:
    """A consistent copy of the SQLite file ``source`` at ``target`` (written beside it
    first, then renamed into place), while other processes go on writing: the backup
    API reads one snapshot (WAL: writers are never blocked). Its size in bytes."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(str(partial))
        try:
            src.backup(dst)  # one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)
    return target.stat().st_size


@dataclass(frozen=True)
class DatabaseCheck:
    """What a copy holds: SQLite's integrity verdict and the migrations applied."""

    integrity: str  # "ok", or SQLite's first complaint
    migrations: tuple[str, ...]
    tables: frozenset[str]


def check_database(path: Path) -> DatabaseCheck:
    """Read a copy without changing it; sqlite3.DatabaseError when it is no database."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        tables = frozenset(
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        )
        migrations: tuple[str, ...] = ()
        if "_sqlite_migrations" in tables:
            migrations = tuple(
                str(r[0])
                for r in conn.execute(
                    "SELECT name FROM _sqlite_migrations WHERE migration_set = 'digest' ORDER BY id"
                )
            )
    finally:
        conn.close()
    return DatabaseCheck(integrity, migrations, tables)


def checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the main file, so the file alone is the store."""
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


# ---------------------------------------------------------------- a copy's schema

_MIGRATIONS_TABLE = "_sqlite_migrations"  # sqlite-utils' own record, shaped by its version


def schema_objects(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """Every table, index, view and trigger of a database as ``{(type, name): SQL}``,
    the SQL with its white space folded (SQLite's own tables and automatic indexes, and
    sqlite-utils' migration record's indexes, left out; any other name is compared)."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE NOT ("
        "(type = 'table' AND name IN ('sqlite_sequence', 'sqlite_stat1', 'sqlite_stat4')) "
        "OR (type = 'index' AND sql IS NULL AND name LIKE 'sqlite^_autoindex^_%' ESCAPE '^'))"
    ).fetchall()
    return {
        (str(kind), str(name)): ""
        if name == _MIGRATIONS_TABLE
        else " ".join(str(sql or "").split())
        for kind, name, table, sql in rows
        if not (kind == "index" and table == _MIGRATIONS_TABLE)
    }


def schema_at(applied: Sequence[str]) -> dict[tuple[str, str], str]:
    """The objects digest's own migrations named in ``applied`` make (in digest's
    order), built in memory: what a store at that migration level holds, no more."""
    from digest.store.schema import migrations

    conn = sqlite3.connect(":memory:")
    try:
        db = Database(conn)
        migrations.ensure_migrations_table(db)
        for migration in migrations._migrations:
            if migration.name in applied:
                migration.fn(db)
        return schema_objects(conn)
    finally:
        conn.close()


def database_schema(path: Path) -> dict[tuple[str, str], str]:
    """`schema_objects` of the file at ``path``, read without changing it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return schema_objects(conn)
    finally:
        conn.close()


# ---------------------------------------------------------------- the store a copy replaces
#
# These read the replaced store, attached to the restored one as ``old``, and write
# the rows `digest.backups` decides to carry over into the restored one (``main``).


def attach_replaced(db: Database, path: Path) -> None:
    """Attach the store a restore replaces as ``old``."""
    db.execute("ATTACH DATABASE ? AS old", [str(path)])


def detach_replaced(db: Database) -> None:
    db.execute("DETACH DATABASE old")


def shared_reader_ids(db: Database) -> tuple[int, int]:
    """(subscriber ids both stores hold, of those how many name another address): a
    store that grew from the copy holds the copy's ids with the same addresses."""
    row = db.conn.execute(
        "SELECT count(*), coalesce(sum(lower(m.email) != lower(o.email)), 0) "
        "FROM main.subscribers m JOIN old.subscribers o ON o.id = m.id"
    ).fetchone()
    return int(row[0]), int(row[1])


def erased_since(db: Database) -> list[int]:
    """Readers of the copy the replaced store gave an id to and no longer holds, by id
    nor by address: erased there since (ids are never reused)."""
    rows = db.conn.execute(
        "SELECT m.id FROM main.subscribers m WHERE m.id <= coalesce((SELECT seq FROM "
        "old.sqlite_sequence WHERE name = 'subscribers'), 0) "
        "AND m.id NOT IN (SELECT id FROM old.subscribers) "
        "AND NOT EXISTS (SELECT 1 FROM old.subscribers o WHERE o.email = m.email COLLATE NOCASE)"
    ).fetchall()
    return [int(r[0]) for r in rows]


def replaced_suppressions(db: Database) -> set[str]:
    """The replaced store's suppression list (keyed hashes)."""
    return {str(r[0]) for r in db.conn.execute("SELECT hash FROM old.suppressions")}


def reader_addresses(db: Database) -> list[tuple[int, str]]:
    """(id, address) of every reader of the restored store."""
    return [(int(r[0]), str(r[1])) for r in db.conn.execute("SELECT id, email FROM subscribers")]


def replaced_addresses(db: Database) -> list[tuple[int, str]]:
    """(id, address) of every reader of the replaced store."""
    return [
        (int(r[0]), str(r[1])) for r in db.conn.execute("SELECT id, email FROM old.subscribers")
    ]


def copy_suppressions(db: Database) -> int:
    """Add the replaced store's suppression list to the restored one; how many were new."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO main.suppressions (hash, reason, created_at) "
        "SELECT hash, reason, created_at FROM old.suppressions"
    )
    return int(cursor.rowcount)


def copy_webhook_events(db: Database) -> int:
    """Add the webhook events the replaced store took: a replay changes nothing twice."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO main.webhook_events SELECT * FROM old.webhook_events"
    )
    return int(cursor.rowcount)


def carry_outgoing(db: Database) -> int:
    """Give the restored store's queued one-off emails (confirmations, notices) the
    outcome the replaced store recorded for the same email (its id, recipient and time):
    one the replaced store sent or gave up on is not sent again. How many."""
    cursor = db.execute(
        "UPDATE main.outgoing SET status = o.status, attempts = o.attempts, "
        "last_error = o.last_error, updated_at = o.updated_at FROM old.outgoing o "
        "WHERE o.id = outgoing.id AND o.recipient = outgoing.recipient "
        "AND o.kind = outgoing.kind AND o.created_at = outgoing.created_at "
        "AND outgoing.status IN ('pending', 'deferred') "
        "AND o.status NOT IN ('pending', 'deferred')"
    )
    return int(cursor.rowcount)


@dataclass(frozen=True)
class Leaving:
    """A reader the replaced store has as left, and where the copy has them."""

    old_id: int
    email: str
    status: str  # unsubscribed, bounced or lapsed, in the replaced store
    changed_at: str  # when the replaced store last changed them
    main_id: int | None  # the same address in the copy
    main_status: str


def leavings(db: Database) -> list[Leaving]:
    """Every reader the replaced store has as unsubscribed, bounced or lapsed (the
    sunset: never mailed either), with the copy's
    row for the same address (any case), if any."""
    rows = db.conn.execute(
        "SELECT o.id, o.email, o.status, o.updated_at, m.id, m.status "
        "FROM old.subscribers o LEFT JOIN main.subscribers m "
        "ON m.email = o.email COLLATE NOCASE "
        "WHERE o.status IN ('unsubscribed', 'bounced', 'lapsed') ORDER BY o.id"
    ).fetchall()
    return [
        Leaving(
            int(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            None if r[4] is None else int(r[4]),
            str(r[5] or ""),
        )
        for r in rows
    ]


def carry_leaving(db: Database, leaving: Leaving) -> int:
    """Give the restored store the replaced store's row of a reader who left: their
    status on the copy's row (or the whole row, when the copy lacks them), and their
    events the copy does not have (those after its last). The restored row's id."""
    if leaving.main_id is None:
        cursor = db.execute(
            "INSERT INTO main.subscribers (email, mailbox, name, status, topics, "
            "created_at, updated_at) SELECT email, mailbox, name, status, topics, "
            "created_at, updated_at FROM old.subscribers WHERE id = ?",
            [leaving.old_id],
        )
        target = int(cursor.lastrowid or 0)
    else:
        target = leaving.main_id
        db.execute(
            "UPDATE main.subscribers SET status = ?, updated_at = ? WHERE id = ?",
            [leaving.status, leaving.changed_at, target],
        )
    db.execute(
        "INSERT INTO main.subscriber_events (subscriber_id, event, source, at, detail, "
        "edition_id) SELECT ?, e.event, e.source, e.at, e.detail, (SELECT m.id FROM "
        "main.editions m JOIN old.editions x ON x.week = m.week WHERE x.id = e.edition_id) "
        "FROM old.subscriber_events e WHERE e.subscriber_id = ? AND NOT EXISTS (SELECT 1 "
        "FROM main.subscriber_events k WHERE k.subscriber_id = ? AND k.event = e.event "
        "AND k.source = e.source AND k.at = e.at) ORDER BY e.id",
        [target, leaving.old_id, target],
    )
    return target


def carry_editions(db: Database) -> tuple[int, int]:
    """Bring the replaced store's editions into the restored store: each one the copy
    lacks (with its variants), and the finish of one the copy has as still frozen.
    (editions added, editions finished)."""
    editions = 0
    finished = 0
    for old_id, week in db.conn.execute("SELECT id, week FROM old.editions ORDER BY id").fetchall():
        found = db.conn.execute("SELECT id FROM main.editions WHERE week = ?", (week,)).fetchone()
        if found is None:
            cursor = db.execute(
                "INSERT INTO main.editions (week, subject, payload, status, created_at, "
                "finished_at) SELECT week, subject, payload, status, created_at, finished_at "
                "FROM old.editions WHERE id = ?",
                [old_id],
            )
            new_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO main.edition_variants (edition_id, key, subject, html, text, "
                "article_count, slots) SELECT ?, key, subject, html, text, article_count, "
                "slots FROM old.edition_variants WHERE edition_id = ?",
                [new_id, old_id],
            )
            editions += 1
        else:
            finished += db.execute(
                "UPDATE main.editions SET status = 'sent', finished_at = (SELECT finished_at "
                "FROM old.editions WHERE id = ?) WHERE id = ? AND status != 'sent' AND "
                "(SELECT status FROM old.editions WHERE id = ?) = 'sent'",
                [old_id, found[0], old_id],
            ).rowcount
    return editions, int(finished)


def carry_deliveries(db: Database, open_statuses: Sequence[str]) -> tuple[int, int]:
    """Bring the replaced store's deliveries into the restored store (its editions
    there already, by week): each one the copy lacks, or has in one of ``open_statuses``
    while the replaced store has it further on (final, or tried more often). Readers
    are matched by address. (deliveries carried, deliveries to readers the restored
    store does not hold, left out)."""
    marks = ", ".join("?" * len(open_statuses))
    unknown = int(
        db.conn.execute(
            "SELECT count(*) FROM old.deliveries d JOIN old.subscribers s "
            "ON s.id = d.subscriber_id WHERE NOT EXISTS (SELECT 1 FROM main.subscribers m "
            "WHERE m.email = s.email COLLATE NOCASE)"
        ).fetchone()[0]
    )
    db.execute("DROP TABLE IF EXISTS temp.carried")
    db.execute(
        "CREATE TEMP TABLE carried AS SELECT me.id AS edition_id, ms.id AS subscriber_id, "
        "d.variant, d.status, d.attempts, d.last_error, d.updated_at, d.provider_id "
        "FROM old.deliveries d JOIN old.editions oe ON oe.id = d.edition_id "
        "JOIN main.editions me ON me.week = oe.week "
        "JOIN old.subscribers os ON os.id = d.subscriber_id "
        "JOIN main.subscribers ms ON ms.email = os.email COLLATE NOCASE"
    )
    updated = db.execute(
        "UPDATE main.deliveries SET status = c.status, attempts = c.attempts, "
        "last_error = c.last_error, updated_at = c.updated_at, provider_id = c.provider_id "
        "FROM temp.carried c WHERE c.edition_id = deliveries.edition_id "
        "AND c.subscriber_id = deliveries.subscriber_id "
        f"AND deliveries.status IN ({marks}) AND (c.status NOT IN ({marks}) "
        "OR c.attempts > deliveries.attempts)",
        [*open_statuses, *open_statuses],
    ).rowcount
    inserted = db.execute(
        "INSERT OR IGNORE INTO main.deliveries (edition_id, subscriber_id, variant, status, "
        "attempts, last_error, updated_at, provider_id) SELECT edition_id, subscriber_id, "
        "variant, status, attempts, last_error, updated_at, provider_id FROM temp.carried"
    ).rowcount
    db.execute("DROP TABLE temp.carried")
    return int(updated) + int(inserted), unknown
