"""`digest backup` and `digest restore`: a consistent copy of the store while it is in use,
and a copy checked before it takes the store's place.

A backup is taken with SQLite's online backup API: one snapshot, so a copy taken in the
middle of a send holds the ledger exactly as it was at one moment; a resume from it
sends what it says is not sent yet. A restore refuses a file that is no store, fails
SQLite's integrity check, or was made by a newer digest (migrations this one does not
know); brings an older one up to date on a copy; refuses while a send holds its lease;
and keeps the store it replaces beside it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest import store
from digest.config import Config
from digest.delivery.ledger import holder_is_gone
from digest.errors import StoreError
from digest.store.backup import check_database, checkpoint, copy_database
from digest.store.schema import migration_names


@dataclass(frozen=True)
class Backup:
    """What `digest backup` wrote."""

    path: str
    bytes: int
    subscribers: int
    editions: int


def backup_store(config: Config, target: Path) -> Backup:
    """A consistent copy of the store at ``target``, checked after it is written."""
    source = config.store_path
    if not source.exists():
        raise StoreError(f"There is no store at {source} to back up (see [store] path).")
    if target.resolve() == source.resolve():
        raise StoreError("The backup would overwrite the store itself: give another file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    size = copy_database(source, target)
    check = check_database(target)
    if check.integrity != "ok":
        raise StoreError(f"The copy at {target} fails SQLite's integrity check: {check.integrity}")
    counts = _counts(target)
    return Backup(str(target), size, counts[0], counts[1])


@dataclass(frozen=True)
class Restore:
    """What `digest restore` did."""

    source: str
    store: str
    previous: str  # where the replaced store was kept ("" when there was none)
    migrated: tuple[str, ...]  # migrations applied to the copy on the way in


def restore_store(config: Config, source: Path, now: datetime) -> Restore:
    """Put the copy at ``source`` in the store's place, once it proves sound."""
    target = config.store_path
    known = migration_names()
    try:
        check = check_database(source)
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{source} is not a digest store ({e}).") from e
    if check.integrity != "ok":
        raise StoreError(
            f"{source} fails SQLite's integrity check: {check.integrity}. Use another backup."
        )
    if "subscribers" not in check.tables or not check.migrations:
        raise StoreError(
            f"{source} is a SQLite file but not a digest store (no subscribers table)."
        )
    newer = [m for m in check.migrations if m not in known]
    if newer:
        raise StoreError(
            f"{source} was made by a newer digest (it has the migrations {', '.join(newer)}): "
            "upgrade digest, then restore."
        )
    if target.exists():
        _refuse_during_a_send(target, now)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    for leftover in _files(staged):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(source, staged)
    db = store.open_store(staged)  # brings an older copy's schema up to date
    db.close()
    migrated = tuple(m for m in known if m not in check.migrations)
    checkpoint(staged)
    if check_database(staged).integrity != "ok":
        raise StoreError(f"{source} could not be brought up to date: the store was not touched.")
    previous = ""
    if target.exists():
        checkpoint(target)
        kept = target.with_name(f"{target.name}.before-restore-{now:%Y%m%dT%H%M%S}")
        os.replace(target, kept)
        previous = str(kept)
    for stale in _files(target)[1:]:
        stale.unlink(missing_ok=True)
    os.replace(staged, target)
    for stale in _files(staged)[1:]:
        stale.unlink(missing_ok=True)
    return Restore(str(source), str(target), previous, migrated)


def _refuse_during_a_send(target: Path, now: datetime) -> None:
    db = store.open_store(target)
    try:
        held = [(w, o) for w, o in store.held_locks(db, now) if not holder_is_gone(o)]
    finally:
        db.close()
    if held:
        week, owner = held[0]
        raise StoreError(
            f"A send of {week} is running ({owner}): restoring now would tear its ledger. "
            "Let it finish (or stop it), stop `digest serve` and `digest schedule`, then "
            "restore."
        )


def _files(database: Path) -> list[Path]:
    """A SQLite database's files: the database, its write-ahead log and shared memory."""
    return [database, Path(f"{database}-wal"), Path(f"{database}-shm")]


def _counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        subscribers = int(conn.execute("SELECT count(*) FROM subscribers").fetchone()[0])
        editions = int(conn.execute("SELECT count(*) FROM editions").fetchone()[0])
    finally:
        conn.close()
    return subscribers, editions
