"""Other newsletter tools' subscriber exports, read as each tool writes them.

Each reader turns a file (or, for Mailchimp, the zip of its audience export) into
`Exported` rows: the address, the name, the state the tool knew the person in, and the
consent time and source where the export has them. What a state means here:

    active        subscribed and confirmed: comes in on the list
    unsubscribed  left (unsubscribed, emails turned off, deleted, disabled)
    bounced       the tool stopped mailing the address (Mailchimp's "cleaned")
    complained    reported the newsletter as spam
    unconfirmed   never confirmed a double opt-in: no consent, left out

Columns are looked up by their names as each tool documents them, in any case; a file
that lacks the address column is refused with the columns it has.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from digest.addresses import clean_name, normalize_email
from digest.content.ingest import parse_topic_names
from digest.content.summarize import declared_charset
from digest.errors import IngestError, RowError

TOOLS = ("mailchimp", "substack", "ghost", "buttondown", "listmonk", "csv")
STATES = ("active", "unsubscribed", "bounced", "complained", "unconfirmed")
# When one address comes twice (Mailchimp's subscribed and unsubscribed files), the
# state that mails nobody wins.
_STRICTNESS = {"complained": 4, "bounced": 3, "unsubscribed": 2, "unconfirmed": 1, "active": 0}


@dataclass(frozen=True)
class Exported:
    """One person in another tool's export."""

    email: str
    name: str
    state: str  # one of STATES
    consent_at: datetime | None = None
    source: str = ""  # how they joined, where the export says (an IP, a form)
    topics: tuple[str, ...] = ()

    def stricter(self, other: Exported) -> Exported:
        """Of two rows for one address, the one that mails nobody (the first on a tie)."""
        return other if _STRICTNESS[other.state] > _STRICTNESS[self.state] else self


Where = tuple[str, int]  # (file, line)
Row = tuple[Where, Exported | RowError]  # where it is, the row or why not
Record = Mapping[str, str]


def read_export(path: Path, tool: str) -> Iterator[Row]:
    """Every row of ``path`` as ``tool`` exports it; IngestError for a file that is not
    that tool's export."""
    if tool not in TOOLS:
        raise IngestError(f"--from {tool!r}: expected one of {', '.join(TOOLS)}.")
    reader = _READERS[tool]
    for table in _tables(path):
        yield from reader(table)


def _tables(path: Path) -> Iterator[Table]:
    """A CSV file, or each CSV in a zip, read as it streams (never all in memory)."""
    try:
        plain = (
            None
            if zipfile.is_zipfile(path)
            else _table(path.name, lambda: path.open("rb"), path.stat().st_size)
        )
    except FileNotFoundError:
        raise IngestError(f"No such file: {path}. Check the path and try again.") from None
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}.") from e
    if plain is not None:
        yield plain
        return
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".csv"))
        if not names:
            raise IngestError(f"{path} is a zip without CSV files in it.")
        for name in names:
            size = archive.getinfo(name).file_size
            yield _table(Path(name).name, functools.partial(archive.open, name), size)


@dataclass(frozen=True)
class Table:
    """One CSV file of an export: its name, its columns (lower case), its rows by line
    (read as they are iterated, once)."""

    name: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str]]]


def _table(name: str, opener: Callable[[], IO[bytes]], size: int) -> Table:
    encoding = _encoding(opener)  # UTF-8 (with or without BOM), else the declared or Latin-1
    csv.field_size_limit(max(csv.field_size_limit(), size + 1))

    def reader() -> tuple[io.TextIOWrapper, csv.DictReader[str]]:
        text = io.TextIOWrapper(opener(), encoding=encoding, errors="replace", newline="")
        found = csv.DictReader(text)
        found.fieldnames = [(f or "").strip().lower() for f in found.fieldnames or []]
        return text, found

    text, header = reader()  # the columns now; the rows when they are read
    with text:
        columns = tuple(header.fieldnames or ())

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        text, found = reader()
        with text:
            for row in found:
                yield found.line_num, {k: (v or "").strip() for k, v in row.items() if k}

    return Table(name, columns, rows())


def _encoding(opener: Callable[[], IO[bytes]], chunk: int = 1 << 20) -> str:
    """The file's encoding as `decode_bytes` would choose it for the whole file, found
    in one pass over it a chunk at a time: UTF-8 when every byte decodes as UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with opener() as raw:
        head = raw.read(4096)
        try:
            decoder.decode(head)
            while block := raw.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
    return declared_charset(head) or "latin-1"


def _need(table: Table, *columns: str) -> str:
    """The first of ``columns`` the file has; IngestError naming what it has instead."""
    have = set(table.columns)
    found = next((c for c in columns if c in have), "")
    if not found:
        raise IngestError(
            f"{table.name} has no {' or '.join(repr(c) for c in columns)} column (its columns: "
            f"{', '.join(sorted(have))}): is it the right --from?"
        )
    return found


def _person(
    where: Where,
    record: Record,
    email_column: str,
    state: str,
    *,
    name: str = "",
    consent: str = "",
    source: str = "",
    topics: str = "",
) -> Row:
    try:
        address = normalize_email(record.get(email_column, ""))
        shown = clean_name(name)
        chosen = parse_topic_names(topics) if topics else ()
    except RowError as e:
        return where, e
    return where, Exported(address, shown, state, _time(consent), source, chosen)


def _time(value: str) -> datetime | None:
    """A time as exports write it (ISO 8601, or "2023-05-01 12:34:56" in UTC)."""
    text = value.strip().replace("Z", "+00:00")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "1", "y", "t")


# ---------------------------------------------------------------- each tool


def _mailchimp(table: Table) -> Iterator[Row]:
    """Mailchimp's audience export: subscribed_, unsubscribed_, cleaned_ (and
    nonsubscribed_) member files, "Email Address", "First Name", "Last Name",
    OPTIN_TIME/CONFIRM_TIME and their IPs, UNSUB_TIME and UNSUB_REASON, CLEAN_TIME."""
    email = _need(table, "email address", "email")
    lowered = table.name.lower()
    for line, r in table.rows:
        if "clean_time" in r or lowered.startswith("cleaned"):
            state = "bounced"
        elif "unsub_time" in r or lowered.startswith("unsubscribed"):
            reason = f"{r.get('unsub_reason', '')} {r.get('unsub_reason_other', '')}".lower()
            state = "complained" if "abuse" in reason or "spam" in reason else "unsubscribed"
        elif lowered.startswith("nonsubscribed"):
            state = "unconfirmed"  # transactional contacts: never subscribed
        else:
            state = "active"
        ip = r.get("confirm_ip") or r.get("optin_ip") or ""
        yield _person(
            (table.name, line),
            r,
            email,
            state,
            name=f"{r.get('first name', '')} {r.get('last name', '')}",
            consent=r.get("confirm_time") or r.get("optin_time") or "",
            source=f"mailchimp, from {ip}" if ip else "mailchimp",
        )


def _simple(
    table: Table, state: Callable[[Record], str], source: Callable[[Record], str]
) -> Iterator[Row]:
    """The exports with one row per person: email, name, created_at, and a state."""
    email = _need(table, "email")
    for line, r in table.rows:
        yield _person(
            (table.name, line),
            r,
            email,
            state(r),
            name=r.get("name", ""),
            consent=r.get("created_at", ""),
            source=source(r),
        )


def _substack(table: Table) -> Iterator[Row]:
    """Substack's subscriber export: email, active_subscription, expiry, plan,
    email_disabled, created_at, first_payment_at. Email turned off: unsubscribed."""
    return _simple(
        table,
        lambda r: "unsubscribed" if _true(r.get("email_disabled", "")) else "active",
        lambda r: f"substack ({r['plan']})" if r.get("plan") else "substack",
    )


def _ghost(table: Table) -> Iterator[Row]:
    """Ghost's members export: id, email, name, note, subscribed_to_emails,
    complimentary_plan, stripe_customer_id, created_at, deleted_at, labels, tiers.
    Not subscribed to emails, or deleted: unsubscribed."""

    def state(r: Record) -> str:
        subscribed = _true(r.get("subscribed_to_emails", "true"))
        return "active" if subscribed and not r.get("deleted_at") else "unsubscribed"

    return _simple(table, state, lambda r: "ghost")


# Buttondown's subscriber types: who is mailed, who left, who never confirmed.
_BUTTONDOWN = {
    "unactivated": "unconfirmed",
    "unsubscribed": "unsubscribed",
    "removed": "unsubscribed",
    "paused": "unsubscribed",
    "spammy": "unsubscribed",
    "blocked": "unsubscribed",
    "undeliverable": "bounced",
    "complained": "complained",
}


def _buttondown(table: Table) -> Iterator[Row]:
    """Buttondown's subscriber export: email (or email_address), subscriber_type (or
    type: regular, premium, gifted, trialed, unactivated, unsubscribed, removed, ...),
    creation_date, notes, tags, metadata, referrer_url, source."""
    email = _need(table, "email", "email_address")
    kind = _need(table, "subscriber_type", "type")
    for line, r in table.rows:
        state = _BUTTONDOWN.get(r.get(kind, "").lower(), "active")
        origin = r.get("referrer_url") or r.get("source") or ""
        yield _person(
            (table.name, line),
            r,
            email,
            state,
            name=_metadata_name(r.get("metadata", "")),
            consent=r.get("creation_date") or r.get("created_date") or "",
            source=f"buttondown, from {origin}" if origin else "buttondown",
        )


def _metadata_name(metadata: str) -> str:
    try:
        found = json.loads(metadata) if metadata else {}
    except ValueError:
        return ""
    return str(found.get("name", "")) if isinstance(found, dict) else ""


_LISTMONK = {"enabled": "active", "disabled": "unsubscribed", "blocklisted": "unsubscribed"}


def _listmonk(table: Table) -> Iterator[Row]:
    """listmonk's subscriber export: uuid, email, name, attributes, status (enabled,
    disabled, blocklisted), created_at, updated_at."""
    return _simple(
        table,
        lambda r: _LISTMONK.get(r.get("status", "").lower(), "active"),
        lambda r: "listmonk",
    )


def _csv(table: Table) -> Iterator[Row]:
    """digest's own: email, name, topics, and optionally status (active, unsubscribed,
    bounced, complained) and subscribed_at."""
    email = _need(table, "email")
    for line, r in table.rows:
        state = r.get("status", "").lower() or "active"
        if state not in STATES:
            yield (table.name, line), RowError(f"status must be one of {', '.join(STATES)}", state)
            continue
        yield _person(
            (table.name, line),
            r,
            email,
            state,
            name=r.get("name", ""),
            consent=r.get("subscribed_at", ""),
            topics=r.get("topics", ""),
        )


_READERS: dict[str, Callable[[Table], Iterator[Row]]] = {
    "mailchimp": _mailchimp,
    "substack": _substack,
    "ghost": _ghost,
    "buttondown": _buttondown,
    "listmonk": _listmonk,
    "csv": _csv,
}
