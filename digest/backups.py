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
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.delivery.ledger import holder_is_gone
from digest.errors import StoreError
from digest.models import OPEN_STATUSES, SubscriberStatus
from digest.readers.subscribers import suppression_keys
from digest.store import backup as copies
from digest.store.backup import (
    DatabaseCheck,
    check_database,
    checkpoint,
    copy_database,
    database_schema,
    schema_at,
)
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
    # What came over from the store it replaced (readers' leavings, the ledger), by kind.
    carried: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what could not be carried over, and why


CARRIED = {  # the kinds `Restore.carried` counts, in the order they are told: (one, many)
    "unsubscribed": ("unsubscribed", "unsubscribed"),
    "bounced": ("bounced", "bounced"),
    "lapsed": ("lapsed", "lapsed"),
    "erased": ("erased", "erased"),
    "suppressions": ("on the suppression list", "on the suppression list"),
    "editions": ("edition", "editions"),
    "deliveries": ("delivery", "deliveries"),
    "finished": ("edition finished", "editions finished"),
    "webhook_events": ("webhook event taken", "webhook events taken"),
    "emails": ("one-off email already sent", "one-off emails already sent"),
}


def carried_said(carried: dict[str, int]) -> str:
    """What a restore carried over, as a sentence's list ("" for nothing)."""
    return ", ".join(
        f"{n} {CARRIED[k][0] if n == 1 else CARRIED[k][1]}"
        for k in CARRIED
        if (n := carried.get(k, 0))
    )


def restore_store(
    config: Config, source: Path, now: datetime, *, discard_current: bool = False
) -> Restore:
    """Put the copy at ``source`` in the store's place, once it proves sound, carrying
    over from the store it replaces what readers said since (every leaving: unsubscribe,
    bounce, complaint, erasure, the suppression list) and the ledger of what was sent.

    The copy is read with SQLite's backup API (a `cp` copy's write-ahead log beside it
    is read with it), and only a schema that digest's own migrations make at the copy's
    level is accepted. A replaced store that cannot be read is refused, unless
    ``discard_current``: then nothing is carried over, and the result says so."""
    target = config.store_path
    known = migration_names()
    unreadable = _unreadable(target) if target.exists() else ""
    if unreadable and not discard_current:
        raise StoreError(
            f"The store at {target} cannot be read ({unreadable}): what readers said since "
            "the copy (who left, who was erased) and the ledger of what was sent cannot be "
            "carried over from it, so a restore would mail them again. Repair it, or restore "
            "with --discard-current to replace it anyway (then remove the readers who left "
            "since the copy, and check `digest status` before any send)."
        )
    if target.exists() and not unreadable:
        _refuse_during_a_send(target, now)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    for leftover in _files(staged):
        leftover.unlink(missing_ok=True)
    try:
        check = _stage(source, staged, known)
        db = store.open_store(staged)  # brings an older copy's schema up to date
        try:
            carried: dict[str, int] = {}
            notes: list[str] = []
            if target.exists() and not unreadable:
                carried, notes = _carry_over(config, db, target)
            elif unreadable:
                notes.append(
                    f"The store it replaced could not be read ({unreadable}): nothing was "
                    "carried over from it."
                )
        finally:
            db.close()
        checkpoint(staged)
        if check_database(staged).integrity != "ok":
            raise StoreError(
                f"{source} could not be brought up to date: the store was not touched."
            )
    except BaseException:
        for leftover in _files(staged):
            leftover.unlink(missing_ok=True)
        raise
    migrated = tuple(m for m in known if m not in check.migrations)
    previous = ""
    if target.exists():
        if not unreadable:
            checkpoint(target)
        kept = target.with_name(f"{target.name}.before-restore-{now:%Y%m%dT%H%M%S}")
        os.replace(target, kept)
        for beside, moved in zip(_files(target)[1:], _files(kept)[1:], strict=True):
            if beside.exists():
                os.replace(beside, moved)
        previous = str(kept)
    os.replace(staged, target)
    for stale in _files(staged)[1:]:
        stale.unlink(missing_ok=True)
    return Restore(str(source), str(target), previous, migrated, carried, tuple(notes))


def _stage(source: Path, staged: Path, known: list[str]) -> DatabaseCheck:
    """Copy ``source`` to ``staged`` with the backup API and check the copy: the data
    checked is the data restored (a write-ahead log beside ``source`` included)."""
    try:
        copy_database(source, staged)
        check = check_database(staged)
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
    problems = schema_differences(database_schema(staged), schema_at(check.migrations))
    if problems:
        shown = "; ".join(problems[:8]) + ("; ..." if len(problems) > 8 else "")
        raise StoreError(
            f"{source} is not digest's own store at its migration level "
            f"({len(check.migrations)} migrations): {shown}. A store holds only what "
            "digest's migrations make (no other triggers, views or tables): restore another "
            "backup, or copy the rows you need into a store `digest` made."
        )
    return check


def schema_differences(
    have: dict[tuple[str, str], str], want: dict[tuple[str, str], str]
) -> list[str]:
    """What a copy's schema has that digest's does not, lacks, or has otherwise."""
    foreign = [f"{kind} {name} is not digest's" for kind, name in sorted(have.keys() - want.keys())]
    missing = [f"{kind} {name} is missing" for kind, name in sorted(want.keys() - have.keys())]
    changed = [
        f"{kind} {name} differs from digest's"
        for kind, name in sorted(want.keys() & have.keys())
        if want[(kind, name)] != have[(kind, name)]
    ]
    return foreign + missing + changed


def _unreadable(target: Path) -> str:
    """Why the store at ``target`` cannot be read whole ("" when it can)."""
    try:
        check = check_database(target)
    except sqlite3.DatabaseError as e:
        return str(e)
    if check.integrity != "ok":
        return f"SQLite's integrity check: {check.integrity}"
    if "subscribers" not in check.tables:
        return "it has no subscribers table"
    return ""


def _carry_over(config: Config, db: Database, replaced: Path) -> tuple[dict[str, int], list[str]]:
    """Bring into the restored store ``db`` what the store it replaces knows and the copy
    does not: who left (and how), who was erased, the suppression list, the ledger."""
    carried = dict.fromkeys(CARRIED, 0)
    notes: list[str] = []
    copies.attach_replaced(db, replaced)
    try:
        with db.atomic():
            shared, other = copies.shared_reader_ids(db)
            grew = shared > 0 and other == 0  # the replaced store is a later state of the copy
            erased = set(copies.erased_since(db)) if grew else set()
            if other:
                notes.append(
                    f"The store it replaced is not a later state of this copy ({other} of "
                    f"{shared} reader ids name other addresses): readers it lacks were not "
                    "taken for erased; leavings were carried over by address."
                )
            hashes = copies.replaced_suppressions(db)
            if hashes:
                still = {email.lower() for _, email in copies.replaced_addresses(db)}
                for reader, email in copies.reader_addresses(db):
                    if email.lower() not in still and suppression_keys(config, email) & hashes:
                        erased.add(reader)
            for reader in sorted(erased):
                store.delete_subscriber_by_id(db, reader)
            carried["erased"] = len(erased)
            carried["suppressions"] = copies.copy_suppressions(db)
            carried["editions"], carried["finished"] = copies.carry_editions(db)
            for leaving in copies.leavings(db):
                if leaving.main_id is not None and leaving.main_status not in (
                    SubscriberStatus.ACTIVE,
                    SubscriberStatus.PENDING,
                ):
                    continue  # the copy has them as left already
                copies.carry_leaving(db, leaving)
                carried[leaving.status] = carried.get(leaving.status, 0) + 1
            carried["deliveries"], unknown = copies.carry_deliveries(
                db, [str(s) for s in OPEN_STATUSES]
            )
            carried["webhook_events"] = copies.copy_webhook_events(db)
            carried["emails"] = copies.carry_outgoing(db)
            if unknown:
                notes.append(
                    f"{unknown} deliveries of the replaced store went to readers "
                    "the copy does not hold (they joined after it): they are not on the "
                    "restored list, so nothing is sent to them."
                )
    finally:
        copies.detach_replaced(db)
    return carried, notes


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
