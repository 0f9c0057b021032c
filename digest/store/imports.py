"""A list import's people, staged in a temporary table while the file is read: one row
per address, so duplicates merge without the whole list in memory. The table lives in
SQLite's temp database (this connection only, spilled to disk as it grows) and is
dropped when the import ends; writing it takes no lock on the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlite_utils import Database

STAGE = "temp.import_people"
_COLUMNS = ("email", "name", "state", "consent_at", "source", "topics")


def open_stage(db: Database) -> None:
    """An empty stage (one left by an import that died is dropped first)."""
    db.conn.execute(f"DROP TABLE IF EXISTS {STAGE}")
    db.conn.execute(
        f"""CREATE TABLE {STAGE} (
            key TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            email TEXT NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            consent_at TEXT,
            source TEXT NOT NULL,
            topics TEXT NOT NULL
        )"""
    )


def close_stage(db: Database) -> None:
    """Drop the stage."""
    db.conn.execute(f"DROP TABLE IF EXISTS {STAGE}")


def staged(db: Database, key: str) -> dict[str, Any] | None:
    """The person staged under ``key``, if any."""
    cursor = db.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM {STAGE} WHERE key = ?", (key,))
    row = cursor.fetchone()
    return dict(zip(_COLUMNS, row, strict=True)) if row else None


def stage(db: Database, key: str, seq: int, person: dict[str, Any]) -> None:
    """Stage ``person`` (the fields of `_COLUMNS`) under ``key``: a new one at ``seq``, or
    the merged row replacing the one already there (which keeps its place)."""
    values = [person[c] for c in _COLUMNS]
    db.conn.execute(
        f"INSERT INTO {STAGE} (key, seq, {', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS),
        [key, seq, *values],
    )


def staged_states(db: Database) -> dict[str, int]:
    """How many staged people are in each state."""
    rows = db.conn.execute(f"SELECT state, count(*) FROM {STAGE} GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def staged_people(db: Database, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every staged person in the order first seen, read a batch at a time (no cursor
    stays open while the caller writes)."""
    after = -1
    while True:
        rows = db.conn.execute(
            f"SELECT seq, {', '.join(_COLUMNS)} FROM {STAGE} WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, batch),
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield dict(zip(_COLUMNS, row[1:], strict=True))
        after = rows[-1][0]
