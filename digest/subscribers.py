"""The list: subscriber addresses validated, normalised and imported row by row."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from email_validator import EmailNotValidError, validate_email
from sqlite_utils import Database

from digest import store
from digest.ingest import RowError, parse_topic_names, read_records
from digest.models import Subscriber


@dataclass
class SubscriberImport:
    """What a subscriber import did; 'kept' are unsubscribed or bounced people left alone."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    merged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The ``subscribers import --json`` shape."""
        return dict(self.__dict__)


def normalize_email(raw: str) -> str:
    """A syntactically valid address with its domain lower-cased (no DNS look-up)."""
    try:
        return str(
            validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False).normalized
        )
    except EmailNotValidError as e:
        raise RowError(str(e), raw) from None


def clean_name(raw: Any) -> str:
    """A display name without control characters (they would break the To header)."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise RowError("name must be text", raw)
    return " ".join("".join(c if c.isprintable() else " " for c in raw).split())


def import_subscribers(db: Database, path: Path, now: datetime) -> SubscriberImport:
    """Import ``email,name,topics`` rows; duplicates in the file are merged, bad rows reported."""
    report = SubscriberImport()
    rows: dict[str, tuple[str, str, set[str]]] = {}
    for line, record in read_records(path, "csv"):
        try:
            if isinstance(record, RowError):
                raise record
            email = normalize_email(str(record.get("email") or ""))
            name, topics = clean_name(record.get("name")), parse_topic_names(record.get("topics"))
        except RowError as e:
            report.skipped += 1
            report.errors.append({"line": line, "reason": e.reason, "value": e.value})
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
            outcome = store.add_subscriber(db, address, display_name, sorted(choices), now)
            setattr(report, outcome, getattr(report, outcome) + 1)
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
