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
that lacks the address column is refused with the columns it has. A file's encoding is
told by its byte-order mark and its bytes (`decode_export`), its delimiter by its first
line, and both are said.
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
from typing import IO, Any

from digest.addresses import clean_name, normalize_email
from digest.content.ingest import parse_topic_names
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


def read_export(
    path: Path, tool: str, *, list_name: str = "", read_as: dict[str, str] | None = None
) -> Iterator[Row]:
    """Every row of ``path`` as ``tool`` exports it; IngestError for a file that is not
    that tool's export, or cannot say who is subscribed. ``list_name`` picks the list of
    a tool that keeps several with their own subscription state (listmonk). ``read_as``
    gets each file's name and how it was read (its encoding and delimiter)."""
    if tool not in TOOLS:
        raise IngestError(f"--from {tool!r}: expected one of {', '.join(TOOLS)}.")
    if tool == "listmonk":
        yield from _listmonk(path, list_name, read_as)
        return
    reader = _READERS[tool]
    for table in _tables(path):
        if read_as is not None:
            read_as[table.name] = table.read_as
        yield from reader(table)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise IngestError(f"No such file: {path}. Check the path and try again.") from None
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}.") from e


# What one export's zip may unpack to: a member file, all of them together, and how many
# times larger than its packed size a member may be (CSV packs some 5 to 50 times;
# a zip bomb of zeros, a thousand).
MAX_UNPACKED = 256 * 1024 * 1024
MAX_RATIO = 200
_CHUNK = 1024 * 1024


def _tables(path: Path) -> Iterator[Table]:
    """A CSV file, or each CSV in a zip (within `MAX_UNPACKED` and `MAX_RATIO`), each
    read as it streams: never all in memory."""
    try:
        is_zip = zipfile.is_zipfile(path)
        size = path.stat().st_size
    except FileNotFoundError:
        raise IngestError(f"No such file: {path}. Check the path and try again.") from None
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}.") from e
    if not is_zip:
        yield _table(path.name, lambda: path.open("rb"), size)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (i for i in archive.infolist() if i.filename.lower().endswith(".csv")),
                key=lambda i: i.filename,
            )
            if not members:
                raise IngestError(f"{path} is a zip without CSV files in it.")
            budget = MAX_UNPACKED
            for member in members:
                _check_unpacked(path, member, budget)
                budget -= member.file_size
                opener = functools.partial(
                    _capped, path, archive, member, budget + member.file_size
                )
                yield _table(Path(member.filename).name, opener, member.file_size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise IngestError(f"{path} is a broken zip ({e}): export it again.") from e


def _limit(member: zipfile.ZipInfo, budget: int) -> int:
    return min(budget, MAX_RATIO * max(member.compress_size, 1))


def _refused(path: Path, member: zipfile.ZipInfo, size: str) -> IngestError:
    return IngestError(
        f"{path.name}: {member.filename} unpacks to {size} from "
        f"{max(member.compress_size, 1):,} bytes packed; an export's files may unpack to at "
        f"most {MAX_UNPACKED // 2**20} MB together and {MAX_RATIO} times their packed size, "
        "so it is refused (a zip bomb, or not an export). Unzip it yourself and import the "
        "CSV files one by one if it is real."
    )


def _check_unpacked(path: Path, member: zipfile.ZipInfo, budget: int) -> None:
    """Refuse a member whose declared size passes the budget or the ratio (zipfile
    never reads past the declared size: a lying header ends in a broken zip)."""
    if member.file_size > _limit(member, budget):
        raise _refused(path, member, f"{member.file_size:,} bytes (as the zip says)")


class _Capped(io.RawIOBase):
    """A member's stream that stops with the refusal past ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int, refuse: Callable[[], IngestError]) -> None:
        self.stream, self.limit, self.refuse, self.seen = stream, limit, refuse, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(min(len(buffer), _CHUNK))
        self.seen += len(data)
        if self.seen > self.limit:
            raise self.refuse()
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


def _capped(
    path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int
) -> IO[bytes]:
    limit = _limit(member, budget)
    raw = _Capped(
        archive.open(member), limit, lambda: _refused(path, member, f"more than {limit:,} bytes")
    )
    return io.BufferedReader(raw, _CHUNK)


@dataclass(frozen=True)
class Table:
    """One CSV file of an export: its name, its columns (lower case), its rows by line
    (read as they are iterated, once), and how it was read (encoding, delimiter)."""

    name: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str]]]
    read_as: str = ""


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)


def decode_export(name: str, data: bytes) -> tuple[str, str]:
    """A spreadsheet's or a tool's text file and how it was read (`export_encoding`)."""
    codec, label = export_encoding(name, lambda: io.BytesIO(data))
    return data.decode(codec), label


def export_encoding(name: str, opener: Callable[[], IO[bytes]]) -> tuple[str, str]:
    """The codec a spreadsheet's or a tool's text file is in, and how it was told, in one
    pass over the file a chunk at a time: by its byte-order mark (UTF-8, UTF-16 as
    Excel's "Unicode text" writes it, UTF-32), else UTF-16 by its zero bytes, else UTF-8
    when every byte decodes, else Windows-1252 (what Excel's "CSV" writes on Western
    Windows; its quotes and dashes kept), else Latin-1. IngestError for a file that its
    own mark says is UTF-16 or -32 and is not."""
    with opener() as raw:
        head = raw.read(4096)
    for mark, codec, label in _BOMS:
        if head.startswith(mark):
            problem = _undecodable(opener, codec)
            if problem:
                raise IngestError(f"{name} starts as {label} but is not ({problem}).")
            return codec, f"{label} (byte-order mark)"
    if len(head) >= 4 and head.count(0) * 4 > len(head):
        codec = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        if not _undecodable(opener, codec):
            return codec, "UTF-16 (no byte-order mark)"
    for codec, label in (("utf-8", "UTF-8"), ("cp1252", "Windows-1252")):
        if not _undecodable(opener, codec):
            return codec, label
    return "latin-1", "Latin-1"


def _undecodable(opener: Callable[[], IO[bytes]], codec: str) -> str:
    """Why the file does not decode as ``codec`` ("" when it does), read a chunk at a time."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        with opener() as raw:
            while block := raw.read(_CHUNK):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        return str(e)
    return ""


_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon"}


def _delimiter(first_line: str) -> str:
    """The delimiter of a CSV by its first line: the commonest of comma, tab (Excel's
    "Unicode text") and semicolon (Excel where the comma is the decimal sign)."""
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _table(name: str, opener: Callable[[], IO[bytes]], size: int) -> Table:
    codec, encoding = export_encoding(name, opener)
    csv.field_size_limit(max(csv.field_size_limit(), size + 1))
    with io.TextIOWrapper(opener(), encoding=codec, newline="") as head:
        delimiter = _delimiter(head.readline())

    def reader() -> tuple[io.TextIOWrapper, csv.DictReader[str]]:
        text = io.TextIOWrapper(opener(), encoding=codec, newline="")
        found = csv.DictReader(text, delimiter=delimiter)
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

    return Table(name, columns, rows(), f"{encoding}, {_DELIMITERS[delimiter]}-separated")


def _need(table: Table, *columns: str, why: str = "is it the right --from?") -> str:
    """The first of ``columns`` the file has; IngestError naming what it has instead
    (and ``why`` it is needed)."""
    have = set(table.columns)
    found = next((c for c in columns if c in have), "")
    if not found:
        raise IngestError(
            f"{table.name} has no {' or '.join(repr(c) for c in columns)} column (its columns: "
            f"{', '.join(sorted(have))}): {why}"
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


_MAILCHIMP_FILES = ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")


def _mailchimp(table: Table) -> Iterator[Row]:
    """Mailchimp's audience export: subscribed_, unsubscribed_, cleaned_ (and
    nonsubscribed_) member files, "Email Address", "First Name", "Last Name",
    OPTIN_TIME/CONFIRM_TIME and their IPs, UNSUB_TIME and UNSUB_REASON, CLEAN_TIME."""
    email = _need(table, "email address", "email")
    lowered = table.name.lower()
    if not lowered.startswith(_MAILCHIMP_FILES) and not {"unsub_time", "clean_time"} & set(
        table.columns
    ):
        raise IngestError(
            f"{table.name} does not say whether its members are subscribed: Mailchimp "
            "names each file of its audience export by their state (subscribed_..., "
            "unsubscribed_..., cleaned_..., nonsubscribed_...). Import the audience "
            "export's zip as Mailchimp gave it (Audience > Export audience), or its files "
            "under their own names."
        )
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
    email_disabled, created_at, first_payment_at. Email turned off: unsubscribed. A
    file without ``email_disabled`` cannot say who turned email off: refused."""
    _need(
        table,
        "email_disabled",
        why="without it the file cannot say who turned email off, and nobody is taken "
        "as subscribed on a guess. Export the list again from Substack (Subscribers > "
        "Export): its export has the column.",
    )
    return _simple(
        table,
        lambda r: "unsubscribed" if _true(r.get("email_disabled", "")) else "active",
        lambda r: f"substack ({r['plan']})" if r.get("plan") else "substack",
    )


def _ghost(table: Table) -> Iterator[Row]:
    """Ghost's members export: id, email, name, note, subscribed_to_emails,
    complimentary_plan, stripe_customer_id, created_at, deleted_at, labels, tiers.
    Not subscribed to emails, or deleted: unsubscribed. A file without
    ``subscribed_to_emails`` cannot say who is: refused."""
    _need(
        table,
        "subscribed_to_emails",
        why="without it the file cannot say who gets emails, and nobody is taken as "
        "subscribed on a guess. Export all members again from Ghost (Members > Export): "
        "its export has the column.",
    )

    def state(r: Record) -> str:
        subscribed = _true(r.get("subscribed_to_emails", ""))
        return "active" if subscribed and not r.get("deleted_at") else "unsubscribed"

    return _simple(table, state, lambda r: "ghost")


# Buttondown's subscriber types: who is mailed, who left, who never confirmed.
_BUTTONDOWN = {
    "regular": "active",
    "premium": "active",
    "gifted": "active",
    "trialed": "active",
    "churning": "active",  # a paid plan ending: still mailed until it does
    "past_due": "active",
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
        state = _BUTTONDOWN.get(r.get(kind, "").lower(), "")
        if not state:
            yield (
                (table.name, line),
                RowError(
                    f"Buttondown's subscriber type must be one of {', '.join(sorted(_BUTTONDOWN))} "
                    "(a type digest does not know is not taken as subscribed)",
                    r.get(kind, ""),
                ),
            )
            continue
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


def _listmonk(path: Path, list_name: str, read_as: dict[str, str] | None) -> Iterator[Row]:
    """listmonk's subscribers as its API gives them (``GET /api/subscribers``, JSON:
    each subscriber's ``status`` and, per list, its ``subscription_status``), read the
    way listmonk decides who gets a campaign: never a blocklisted subscriber; on a
    double opt-in list only ``confirmed``; on a single opt-in list anyone not
    ``unsubscribed``. Its CSV export carries only the overall status, which no
    unsubscribe link changes: refused, naming what to export instead."""
    text, encoding = decode_export(path.name, _read(path))
    text = text.lstrip()
    if read_as is not None:
        read_as[path.name] = f"{encoding}, JSON"
    if not text.startswith(("{", "[")):
        raise IngestError(
            f"{path.name} is listmonk's CSV export, which carries only each subscriber's "
            "overall status (enabled, disabled, blocklisted): not whether they unsubscribed "
            "from the list, nor whether they confirmed a double opt-in, so importing it "
            "would bring back people who left. Export the list with listmonk's API as JSON "
            "instead: curl -u 'USER:TOKEN' "
            "'https://LISTMONK/api/subscribers?list_id=ID&per_page=all' > listmonk.json, "
            "then import that file with --from listmonk."
        )
    try:
        people = _listmonk_people(json.loads(text))
    except ValueError as e:
        raise IngestError(f"{path.name} is not listmonk's JSON ({e}).") from e
    chosen = _listmonk_list(path.name, people, list_name)
    for number, person in enumerate(people, 1):
        where = (path.name, number)
        entry = next((entry for entry in _lists_of(person) if _list_key(entry) == chosen), None)
        if entry is None:
            yield where, RowError(f"not on the listmonk list {chosen[1]!r}", _email_of(person))
            continue
        state = _listmonk_state(person, entry)
        if isinstance(state, RowError):
            yield where, state
            continue
        yield _person(
            where,
            {"email": _email_of(person)},
            "email",
            state,
            name=str(person.get("name") or ""),
            consent=str(entry.get("subscription_created_at") or person.get("created_at") or ""),
            source=f"listmonk ({chosen[1]})",
        )


def _listmonk_people(document: object) -> list[dict[str, object]]:
    """The subscribers of an API answer, a page of it, or a list of pages."""
    pages = document if isinstance(document, list) else [document]
    people: list[dict[str, object]] = []
    for page in pages:
        if isinstance(page, dict) and "email" in page:
            people.append(page)
            continue
        body = page.get("data", page) if isinstance(page, dict) else None
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ValueError("expected the answer of GET /api/subscribers: data.results")
        people.extend(r if isinstance(r, dict) else {"email": str(r)} for r in results)
    return people


def _lists_of(person: dict[str, object]) -> list[dict[str, object]]:
    found = person.get("lists")
    return [entry for entry in found if isinstance(entry, dict)] if isinstance(found, list) else []


def _list_key(entry: dict[str, object]) -> tuple[str, str]:
    return str(entry.get("id", "")), str(entry.get("name", ""))


def _email_of(person: dict[str, object]) -> str:
    return str(person.get("email") or "")


def _listmonk_list(name: str, people: list[dict[str, object]], wanted: str) -> tuple[str, str]:
    """The (id, name) of the list this newsletter is: the one named, else the only one."""
    lists = sorted({_list_key(e) for p in people for e in _lists_of(p)})
    shown = ", ".join(f"{n!r} (id {i})" for i, n in lists) or "none"
    if wanted:
        match = [k for k in lists if wanted.casefold() in (k[0], k[1].casefold())]
        if len(match) != 1:
            raise IngestError(f"{name} has no listmonk list {wanted!r}; its lists: {shown}.")
        return match[0]
    if len(lists) != 1:
        raise IngestError(
            f"{name} holds the listmonk lists {shown}: each has its own subscription state, "
            "so name the one this newsletter is with --list NAME (or its id)."
        )
    return lists[0]


_LISTMONK_OFF = {"blocklisted": "unsubscribed", "disabled": "unsubscribed"}


def _listmonk_state(person: dict[str, object], entry: dict[str, object]) -> str | RowError:
    """What listmonk would do with one subscriber on one list."""
    status = str(person.get("status") or "")
    if status in _LISTMONK_OFF:
        return _LISTMONK_OFF[status]
    if status != "enabled":
        return RowError("listmonk's status must be enabled, disabled or blocklisted", status)
    subscription = str(entry.get("subscription_status") or "")
    if subscription == "unsubscribed":
        return "unsubscribed"
    if subscription == "confirmed":
        return "active"
    if subscription == "unconfirmed":
        # Single opt-in lists mail the unconfirmed; double opt-in (or a list whose
        # opt-in the export does not say) mails only the confirmed.
        return "active" if entry.get("optin") == "single" else "unconfirmed"
    return RowError(
        "listmonk's subscription_status must be confirmed, unconfirmed or unsubscribed",
        subscription,
    )


# What a spreadsheet runs as a formula at the start of a cell, and the quote that marks
# a cell as text (so a cell that starts with it is quoted too: the mark comes off again).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (CSV injection):
    one that starts like a formula (or with the quote) gets a leading quote, which
    `from_spreadsheet` takes off again, so an export re-imports as the same values."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def from_spreadsheet(cell: str) -> str:
    """The value `spreadsheet_safe` wrote ``cell`` for."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def _csv(table: Table) -> Iterator[Row]:
    """digest's own: email, name, topics, and optionally status (active, unsubscribed,
    bounced, complained) and subscribed_at; cells as its export writes them
    (`spreadsheet_safe`)."""
    email = _need(table, "email")
    for line, raw in table.rows:
        r = {key: from_spreadsheet(value) for key, value in raw.items()}
        state = r.get("status", "").lower() or "active"
        if state == "lapsed":  # the sunset's: mails nobody, like one who left
            state = "unsubscribed"
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
    "csv": _csv,
}
