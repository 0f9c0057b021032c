"""How values are stored: UTC text times (text order is time order) and plain inserts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest.errors import StoreError


def to_db_time(moment: datetime) -> str:
    """A timezone-aware datetime as the store's UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; attach a timezone first")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db_time(text: str) -> datetime:
    """The store's UTC text as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def insert_row(db: Database, table: str, row: dict[str, Any]) -> int:
    cursor = db.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock as it begins (BEGIN IMMEDIATE),
    waiting for it up to the connection's timeout; nested, a savepoint.

    Every transaction that writes begins this way, never as a read that later becomes a
    write: SQLite gives such an upgrade no busy wait (in WAL mode it fails at once,
    "database is locked", whenever another connection holds the write lock or has
    committed since the read began), which is what a sign-up during a send would meet.
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():  # a savepoint inside the transaction already holding the lock
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    conn.commit()


@contextmanager
def writes(what: str) -> Iterator[None]:
    """Turn a failed store operation (disk full, I/O error, locked past the timeout) into
    a StoreError that says what was being done and what to do."""
    try:
        yield
    except sqlite3.Error as e:
        raise StoreError(
            f"The store could not be written while {what}: {e}. Free disk space or fix "
            "the disk (or wait for the other writer), then run `send --resume`: what was "
            "recorded stays recorded."
        ) from e
