"""Copies of the store: taken with SQLite's online backup API, checked before use."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


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
