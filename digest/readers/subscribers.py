"""The list: subscriber addresses validated, normalised and imported row by row."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from digest import store
from digest.addresses import clean_name, normalize_email
from digest.config import Config
from digest.content.ingest import csv_columns, parse_topic_names, read_records
from digest.content.sections import topic_choices
from digest.errors import IngestError, RowError, SubscriberError, SubscriberKeptError
from digest.models import ImportCounts, Subscriber, SubscriberStatus, slugify


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
    ('kept'): that takes `reactivate_subscriber`, on the reader's own request.
    """
    found = store.get_subscriber(db, email)
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
    db: Database, email: str, name: str, topics: str, now: datetime
) -> tuple[str, str]:
    """`subscribers add`: validate the address, then save; return (address, outcome).

    Raises RowError for a bad address and SubscriberKeptError for one that left the list.
    """
    try:
        address = normalize_email(email)
    except RowError as e:
        raise RowError(f"{email!r} is not a valid address: {e.reason}", email) from e
    outcome = save_subscriber(db, address, clean_name(name), parse_topic_names(topics), now)
    if outcome == "kept":
        raise SubscriberKeptError(address)
    return address, outcome


def reactivate_subscriber(db: Database, email: str, now: datetime) -> None:
    """Set an unsubscribed or bounced subscriber active again, on their request."""
    if not store.set_subscriber_status(db, email, SubscriberStatus.ACTIVE, now):
        raise SubscriberError(f"{email} is not on the list.")


def remove_subscriber(db: Database, email: str, now: datetime, *, forget: bool = False) -> None:
    """Unsubscribe an address, or with ``forget`` erase it and its history."""
    found = (
        store.delete_subscriber(db, email)
        if forget
        else store.set_subscriber_status(db, email, SubscriberStatus.UNSUBSCRIBED, now)
    )
    if not found:
        raise SubscriberError(f"{email} is not on the list.")


def list_subscribers(db: Database, status: str | None = None) -> Iterator[Subscriber]:
    """Subscribers in id order, optionally of one status."""
    return store.iter_subscribers(db, status)


def subscriber_rows(db: Database, status: str | None = None) -> Iterator[dict[str, Any]]:
    """`subscribers list`: each subscriber with the bounces and complaints that came back."""
    returns = store.return_counts_by_subscriber(db)
    for s in store.iter_subscribers(db, status):
        back = returns.get(s.id, {})
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


def import_subscribers(
    db: Database, path: Path, now: datetime, config: Config | None = None
) -> SubscriberImport:
    """Import ``email,name,topics`` rows; duplicates in the file are merged, bad rows reported.

    IngestError for a file with no email column. With ``config``, topics no section
    has are listed in ``unknown_topics`` (those readers would get nothing for them).
    """
    report = SubscriberImport()
    rows: dict[str, tuple[str, str, set[str]]] = {}
    records = read_records(path, "csv")  # reads (and checks) the file first
    columns = csv_columns(path)
    if columns and "email" not in columns:
        raise IngestError(
            f"{path} has no email column (its columns: {', '.join(columns)}). The first "
            "line must name the columns, like: email,name,topics"
        )
    for line, record in records:
        try:
            if isinstance(record, RowError):
                raise record
            email = normalize_email(str(record.get("email") or ""))
            name, topics = clean_name(record.get("name")), parse_topic_names(record.get("topics"))
        except RowError as e:
            report.reject(e.reason, e.value, line=line)
            continue
        key = email.lower()
        if key in rows:
            report.merged += 1
            first_email, first_name, first_topics = rows[key]
            rows[key] = (first_email, first_name or name, first_topics | set(topics))
        else:
            rows[key] = (email, name, set(topics))
    with db.atomic():
        for address, display_name, choices in rows.values():
            report.tally(save_subscriber(db, address, display_name, sorted(choices), now))
    if config is not None:
        known = known_topics(db, config)
        chosen = {t for _, _, choices in rows.values() for t in choices}
        report.unknown_topics = sorted(t for t in chosen if slugify(t) not in known)
    return report


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


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
