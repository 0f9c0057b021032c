"""The list: subscriber addresses validated, normalised and imported row by row."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from digest import store
from digest.addresses import clean_name, normalize_email
from digest.config import DEVELOPMENT_SECRET, Config
from digest.content.ingest import parse_topic_names
from digest.content.sections import topic_choices
from digest.errors import RowError, SubscriberError, SubscriberKeptError
from digest.models import ImportCounts, Subscriber, SubscriberStatus, slugify
from digest.readers.exports import Exported, read_export, spreadsheet_safe
from digest.tokens import suppression_hash, suppression_hashes


@dataclass
class SubscriberImport(ImportCounts):
    """What a subscriber import did; 'kept' are unsubscribed or bounced people left alone."""

    kept: int = 0
    merged: int = 0
    unknown_topics: list[str] = field(default_factory=list)  # no section has them


def save_subscriber(
    db: Database, email: str, name: str, topics: Sequence[str], now: datetime
) -> str:
    """Add a subscriber or update name/topics; return added, updated, unchanged or kept.

    An unsubscribed or bounced address is never re-activated by an add or an import
    ('kept'), nor added again under another spelling of its mailbox: that takes
    `reactivate_subscriber`, on the reader's own request.
    """
    found = find_subscriber(db, email)
    if found is None:
        store.insert_subscriber(db, email, name, topics, now)
        return "added"
    if found.status != SubscriberStatus.ACTIVE:
        return "kept"
    if found.name == name and ",".join(found.topics) == store.topics_key(topics):
        return "unchanged"
    store.update_profile(db, found.id, name, topics, now)
    return "updated"


def add_subscriber(
    db: Database, config: Config, email: str, name: str, topics: str, now: datetime
) -> tuple[str, str]:
    """`subscribers add`: validate the address, then save; return (address, outcome).

    Raises RowError for a bad address, SubscriberKeptError for one that left the list,
    and SubscriberError for one erased at their request (the suppression list).
    """
    try:
        address = normalize_email(email)
    except RowError as e:
        raise RowError(f"{email!r} is not a valid address: {e.reason}", email) from e
    if is_erased(db, config, address) and store.get_subscriber(db, address) is None:
        raise SubscriberError(
            f"{address} was erased from this list at their request and is on the suppression "
            "list: only their own sign-up (with its confirmation) brings them back."
        )
    outcome = save_subscriber(db, address, clean_name(name), parse_topic_names(topics), now)
    if outcome == "kept":
        raise SubscriberKeptError(address)
    return address, outcome


def reactivate_subscriber(db: Database, email: str, now: datetime) -> None:
    """Set an unsubscribed or bounced subscriber active again, on their request."""
    if not store.set_subscriber_status(db, email, SubscriberStatus.ACTIVE, now):
        raise SubscriberError(f"{email} is not on the list.")


def remove_subscriber(
    db: Database, config: Config, email: str, now: datetime, *, forget: bool = False
) -> None:
    """Unsubscribe an address, or with ``forget`` erase it and its history, keeping only
    the keyed hash of its mailbox on the suppression list (`[privacy] forget = "hash"`,
    the default): the least that is needed to honour the objection, so no later
    import of an old file brings the person back."""
    if forget:
        with store.transaction(db):  # the erasure and its event (no address) are one
            gone = store.get_subscriber(db, email)
            found = store.delete_subscriber(db, email)
            if found and config.privacy.forget == "hash":
                store.suppress(db, suppression_key(config, email), "erased on request", now)
            if found and gone is not None:
                store.record_hook_event(db, "subscriber.forgotten", {"subscriber_id": gone.id}, now)
    else:
        found = store.set_subscriber_status(db, email, SubscriberStatus.UNSUBSCRIBED, now)
    if not found:
        raise SubscriberError(f"{email} is not on the list.")


def suppression_key(config: Config, email: str) -> str:
    """The suppression list's key for an address: a keyed hash of its mailbox."""
    return suppression_hash(config.secret or DEVELOPMENT_SECRET, email)


def suppression_keys(config: Config, email: str) -> frozenset[str]:
    """Every key the suppression list may hold an address's mailbox by."""
    return suppression_hashes(config.secret or DEVELOPMENT_SECRET, email)


def is_erased(db: Database, config: Config, email: str) -> bool:
    """Whether the mailbox ``email`` reaches (any spelling) is on the suppression list."""
    return any(store.is_suppressed(db, key) for key in suppression_keys(config, email))


def find_subscriber(db: Database, email: str) -> Subscriber | None:
    """The subscriber with this address, else one whose address reaches the same
    mailbox (another case, +tag, dots, googlemail.com), one who left first."""
    found = store.get_subscriber(db, email)
    if found is not None:
        return found
    twins = store.subscribers_of_mailbox(db, email)
    return twins[0] if twins else None


def list_subscribers(db: Database, status: str | None = None) -> Iterator[Subscriber]:
    """Subscribers in id order, optionally of one status."""
    return store.iter_subscribers(db, status)


def subscriber_rows(db: Database, status: str | None = None) -> Iterator[dict[str, Any]]:
    """`subscribers list`: each subscriber with the bounces and complaints that came back."""
    for s, back in store.subscribers_with_returns(db, status):
        yield {
            "email": s.email,
            "name": s.name,
            "topics": list(s.topics),
            "status": s.status,
            "returned": {
                "hard_bounces": back.get("bounced", 0),
                "soft_bounces": back.get("soft-bounce", 0),
                "complaints": back.get("complaint", 0),
            },
        }


def export_subscribers(db: Database, out: TextIO, status: str | None = None) -> int:
    """`subscribers export`: the list as spreadsheet-safe CSV; return how many rows."""
    return export_csv(store.iter_subscribers(db, status), out)


def known_topics(db: Database, config: Config) -> set[str]:
    """Topic slugs a section can have: the configured sections (`topic_choices`)."""
    return {slug for slug, _ in topic_choices(config)}


@dataclass
class ListImport(SubscriberImport):
    """`subscribers import --from TOOL`: what came in, in which state, and what was
    refused and why. ``states`` counts the export's rows by state (active, unsubscribed,
    bounced, complained, unconfirmed); ``left`` are readers of this list the export says
    left (they are mailed no more); ``suppressed`` rows were refused as erased."""

    tool: str = "csv"
    dry_run: bool = False
    states: dict[str, int] = field(default_factory=dict)
    left: int = 0
    unconfirmed: int = 0
    suppressed: int = 0
    read_as: dict[str, str] = field(default_factory=dict)  # file: its encoding, delimiter


class _DryRun(Exception):
    """Raised inside the import's transaction to undo it: a dry run changes nothing."""


def import_subscribers(
    db: Database,
    path: Path,
    now: datetime,
    config: Config,
    *,
    tool: str = "csv",
    dry_run: bool = False,
    list_name: str = "",
) -> ListImport:
    """Import another tool's export (`exports.read_export`) or digest's own CSV.

    Subscribed people come in active with their consent time and source; people who
    unsubscribed, bounced or complained come in in that state and are never mailed (an
    active reader the export says left is taken off); unconfirmed ones are left out.
    Nobody who left is re-activated ("kept"), and nobody erased at their request (the
    suppression list) comes back: that takes their own confirmed sign-up. Duplicates are
    merged, the state that mails nobody winning. ``dry_run`` reports the same and
    changes nothing. ``list_name`` is the tool's list this newsletter is, for a tool
    that keeps several (listmonk). IngestError for a file that is not the tool's export,
    or cannot say who is subscribed.
    """
    report = ListImport(tool=tool, dry_run=dry_run)
    chosen: set[str] = set()
    store.open_stage(db)
    try:
        with db.atomic():  # the stage only: no lock on the store while the file is read
            _stage_export(db, path, tool, report, list_name)
        report.states = store.staged_states(db)
        try:
            with store.transaction(db):
                for person in _staged_people(db):
                    chosen.update(person.topics)
                    _take(db, config, person, now, report)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
    finally:
        store.close_stage(db)
    known = known_topics(db, config)
    report.unknown_topics = sorted(t for t in chosen if slugify(t) not in known)
    return report


def _stage_export(
    db: Database, path: Path, tool: str, report: ListImport, list_name: str = ""
) -> None:
    """Every row of the export into the stage, one per address: a duplicate is merged
    into the first (the state that mails nobody wins, the first name, every topic)."""
    seq = 0
    for (name, line), row in read_export(path, tool, list_name=list_name, read_as=report.read_as):
        if isinstance(row, RowError):
            report.reject(row.reason, row.value, file=name, line=line)
            continue
        key = row.email.lower()
        found = store.staged(db, key)
        if found is not None:
            report.merged += 1
            first = _exported(found)
            merged = first.stricter(row)
            row = replace(
                merged,
                name=first.name or row.name,
                topics=tuple(sorted({*first.topics, *row.topics})),
            )
        seq += 1
        store.stage(db, key, seq, _stage_row(row))


def _stage_row(person: Exported) -> dict[str, Any]:
    return {
        "email": person.email,
        "name": person.name,
        "state": person.state,
        "consent_at": person.consent_at.isoformat() if person.consent_at else None,
        "source": person.source,
        "topics": "\x1f".join(person.topics),
    }


def _exported(row: dict[str, Any]) -> Exported:
    consent = row["consent_at"]
    return Exported(
        email=row["email"],
        name=row["name"],
        state=row["state"],
        consent_at=datetime.fromisoformat(consent) if consent else None,
        source=row["source"],
        topics=tuple(t for t in row["topics"].split("\x1f") if t),
    )


def _staged_people(db: Database) -> Iterator[Exported]:
    return (_exported(row) for row in store.staged_people(db))


def _take(
    db: Database, config: Config, person: Exported, now: datetime, report: ListImport
) -> None:
    """One person of the export, by state."""
    source = f"import-{report.tool}"
    detail = _consent(person)
    found = find_subscriber(db, person.email)
    if person.state == "unconfirmed":
        report.unconfirmed += 1
        return
    if person.state == "active":
        if found is None and is_erased(db, config, person.email):
            report.suppressed += 1
            report.reject(
                "erased from this list at their request: only their own sign-up brings them back",
                person.email,
            )
            return
        if found is None:
            new = store.insert_subscriber(
                db, person.email, person.name, person.topics, now, created=person.consent_at
            )
            store.add_event(db, new, "subscribed", source, now, detail)
            report.tally("added")
            return
        report.tally(save_subscriber(db, found.email, person.name, person.topics, now))
        return
    status = (
        SubscriberStatus.BOUNCED if person.state == "bounced" else SubscriberStatus.UNSUBSCRIBED
    )
    event = "complaint" if person.state == "complained" else ""
    if found is None:
        new = store.insert_subscriber(
            db, person.email, person.name, person.topics, now, status, created=person.consent_at
        )
        store.add_event(
            db, new, event or str(status), source, now, f"left before the import; {detail}"
        )
        report.tally("added")
    elif found.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        store.change_subscriber(
            db, found.id, now, source, status=status, event=event, detail=detail
        )
        report.left += 1
    else:
        report.tally("unchanged")


def _consent(person: Exported) -> str:
    """The consent record an export gives: when and how the person joined."""
    said = [person.source] if person.source else []
    if person.consent_at is not None:
        said.append(f"subscribed {person.consent_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return "; ".join(said)


def export_csv(subscribers: Iterable[Subscriber], out: TextIO) -> int:
    """Write ``email,name,topics,status`` rows with formula-like cells neutralised."""
    writer = csv.writer(out)
    writer.writerow(["email", "name", "topics", "status"])
    count = 0
    for s in subscribers:
        row = [s.email, s.name, ",".join(s.topics), s.status]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
        count += 1
    return count


def add_with_consent(
    db: Database,
    config: Config,
    email: str,
    name: str,
    topics: Sequence[str],
    consent_at: datetime,
    source: str,
    now: datetime,
) -> tuple[str, str]:
    """Add a reader another system has the consent evidence for (when and how they
    joined), active at once, the evidence kept in the consent record: added, updated or
    unchanged. The rules of every import hold: RowError for a bad address,
    SubscriberKeptError for one who left, SubscriberError for one erased at their
    request. (address, outcome)."""
    try:
        address = normalize_email(email)
    except RowError as e:
        raise RowError(f"{email!r} is not a valid address: {e.reason}", email) from e
    detail = f"{source}; subscribed {consent_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    with store.transaction(db):
        found = find_subscriber(db, address)
        if found is None and is_erased(db, config, address):
            raise SubscriberError(
                f"{address} was erased from this list at their request: only their own "
                "sign-up (with its confirmation) brings them back."
            )
        if found is None:
            new = store.insert_subscriber(
                db, address, clean_name(name), topics, now, created=consent_at
            )
            store.add_event(db, new, "subscribed", "api", now, detail)
            return address, "added"
        outcome = save_subscriber(db, found.email, clean_name(name), topics, now)
    if outcome == "kept":
        raise SubscriberKeptError(address)
    return found.email, outcome
