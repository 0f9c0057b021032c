"""Articles in: JSONL and CSV records, validated row by row, upserted by canonical URL.

A bad row never stops the import: it is reported with its line number and the rest go on.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from sqlite_utils import Database

from digest import store
from digest.content.boilerplate import is_full_page
from digest.content.images import PageImage, page_image
from digest.errors import IngestError, RowError
from digest.models import EARLIEST_YEAR, LATEST_YEAR, Article, ImportCounts
from digest.store import upsert_article

FORMATS = ("auto", "jsonl", "csv")
# Query parameters that only say where a click came from.
_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_hsenc|_hsmi|mkt_tok|"
    r"igshid|yclid|ref_src|oly_enc_id|oly_anon_id|wt_mc|__s)$",
    re.IGNORECASE,
)
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off", ""}


def canonical_url(url: str, base: str | None = None) -> str:
    """Absolute URL, scheme and host lower-cased, tracking parameters dropped, fragment kept."""
    raw = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise RowError("url must be an absolute http(s) URL", url)
    netloc = parts.hostname.lower()
    if parts.port and parts.port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        netloc += f":{parts.port}"
    if parts.username:
        raise RowError("url must not carry a user name or password", url)
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, parts.fragment))


def record_to_article(record: Mapping[str, Any], tz: tzinfo, now: datetime) -> Article:
    """Validate one article record (DESIGN.md format) into an Article."""
    url = canonical_url(_text(record, "url", required=True))
    title = _text(record, "title", required=True)
    body = _text(record, "body")
    image = _image(record, url, body)
    return Article(
        id=0,
        url=url,
        title=title,
        published_at=_published(record.get("published_at"), tz, now),
        body=body,
        excerpt=_text(record, "excerpt"),
        author=_text(record, "author"),
        topics=parse_topic_names(record.get("topics")),
        featured=_boolean(record.get("featured")),
        score=_number(record.get("score")),
        image_url=image.url,
        status=_status(record.get("status")),
        guid=_text(record, "guid"),
        image_alt=image.alt,
        image_width=image.width,
        image_height=image.height,
    )


def _image(record: Mapping[str, Any], url: str, body: str) -> PageImage:
    """The record's image_url (with image_alt, image_width, image_height), else the
    og:image of a full page given as the body."""
    given = _image_url(record.get("image_url"), url)
    if given:
        return PageImage(
            given,
            " ".join(_text(record, "image_alt").split()),
            _size(record.get("image_width"), "image_width"),
            _size(record.get("image_height"), "image_height"),
        )
    found = page_image(body) if body and is_full_page(body) else None
    if found is None:
        return PageImage("")
    try:
        return replace(found, url=canonical_url(found.url, url))
    except RowError:
        return PageImage("")  # an unusable og:image is no reason to refuse the article


def _size(value: Any, key: str) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RowError(f"{key} must be a whole number of pixels", value) from None
    if not 0 <= number < 100_000:
        raise RowError(f"{key} must be a whole number of pixels", value)
    return number


def _text(record: Mapping[str, Any], key: str, required: bool = False) -> str:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"{key} is required", value)
        return ""
    if not isinstance(value, str):
        raise RowError(f"{key} must be text", value)
    if "\x00" in value:
        raise RowError(f"{key} contains a NUL character", value[:80])
    return value.strip() if key != "body" else value


def _published(value: Any, tz: tzinfo, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise RowError("published_at must be an ISO 8601 date-time text", value)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RowError(
            "published_at must be ISO 8601, like 2026-11-20T09:30:00+01:00", value
        ) from None
    check_year(moment, value)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def check_year(moment: datetime, value: Any) -> None:
    """RowError for a date outside the years digest stores (a typo or a placeholder)."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise RowError(
            f"published_at year {moment.year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}; "
            "check the date",
            value,
        )


def parse_topic_names(value: Any) -> tuple[str, ...]:
    """Topic names from a list or a comma-separated text, first spelling of each kept."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise RowError("topics must be a list of names or a comma-separated text", value)
    seen: dict[str, str] = {}
    for t in (t.strip() for t in items):
        if t and t.lower() not in seen:
            seen[t.lower()] = t
    return tuple(seen.values())


def _boolean(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RowError("featured must be true or false", value)


def _number(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise RowError("score must be a number", value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError("score must be a number", value) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RowError("score must be a finite number", value)
    return number


def _image_url(value: Any, base: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise RowError("image_url must be a URL", value)
    return canonical_url(value, base)


def _status(value: Any) -> str:
    if value is None or value == "":
        return "published"
    if value not in ("published", "draft"):
        raise RowError("status must be published or draft", value)
    return str(value)


def detect_format(source: str, declared: str) -> str:
    """The record format: as declared, else from the file's extension."""
    if declared != "auto":
        return declared
    suffix = Path(source).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise IngestError(
        f"Cannot tell the format of {source}: name it .jsonl or .csv, or pass --format jsonl|csv."
    )


def read_records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, record or the reason it is unreadable) for each record in the file."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise IngestError(f"No such file: {path}. Check the path and try again.") from None
    except UnicodeDecodeError as e:
        raise IngestError(
            f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8 and import again."
        ) from e
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}.") from e
    return _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)


def csv_columns(path: Path) -> list[str]:
    """The lower-cased column names on a CSV file's first line ([] for an empty file)."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            first = f.readline()
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}.") from e
    return [c.strip().lower() for c in next(csv.reader([first]), [])]


def _jsonl_records(text: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            yield number, RowError(f"not valid JSON: {e.msg} at column {e.colno}", line[:80])
            continue
        if isinstance(value, dict):
            yield number, value
        else:
            yield number, RowError("each line must be a JSON object", line[:80])


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    # The whole file is in memory already: no field of it can be over this limit (the
    # default, 131,072 characters, would end the import at a long article body).
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    reader.fieldnames = fields
    stuck_at = -1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:  # one unreadable row is reported; the reader goes on
            yield reader.line_num, RowError(f"unreadable CSV: {e}")
            if reader.line_num == stuck_at:  # no progress: the rest cannot be read
                return
            stuck_at = reader.line_num
            continue
        if None in row:
            yield reader.line_num, RowError("more cells than header columns", row[None])
            continue
        yield reader.line_num, {k: v for k, v in row.items() if k}


def import_articles(db: Database, path: Path, fmt: str, tz: tzinfo, now: datetime) -> ImportCounts:
    """Import every readable record of ``path``; report bad rows by line."""
    report = ImportCounts()
    for line, record in read_records(path, detect_format(str(path), fmt)):
        try:
            if isinstance(record, RowError):
                raise record
            outcome = import_record(db, record, tz, now)
        except RowError as e:
            report.reject(e.reason, _short(e.value), line=line)
            continue
        report.tally(outcome)
    return report


def import_record(db: Database, record: Mapping[str, Any], tz: tzinfo, now: datetime) -> str:
    """One record by the import's rules (validated, canonical URL, an undated record
    keeping its first date), upserted: added, updated or unchanged. RowError says what
    is wrong with it. `import` and the API's article routes both come through here."""
    article = _keep_known_date(db, record_to_article(record, tz, now), record)
    return upsert_article(db, article, now)


def import_batch(db: Database, records: list[Any], tz: tzinfo, now: datetime) -> ImportCounts:
    """Many records, each bad one named by its position (``index``, from 0) while the
    rest import, in one transaction."""
    report = ImportCounts()
    with store.transaction(db):
        for index, record in enumerate(records):
            try:
                if not isinstance(record, Mapping):
                    raise RowError("each article must be a JSON object", _short(record))
                outcome = import_record(db, record, tz, now)
            except RowError as e:
                report.reject(e.reason, _short(e.value), index=index)
                continue
            report.tally(outcome)
    return report


def short_value(value: Any) -> Any:
    """A value as an error names it (long text cut)."""
    return _short(value)


def _keep_known_date(db: Database, article: Article, record: Mapping[str, Any]) -> Article:
    """An undated record keeps the date it got when first imported, not a new 'now'."""
    if record.get("published_at"):
        return article
    known = store.published_at_of(db, article.url)
    return replace(article, published_at=known) if known else article


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 120:
        return value[:117] + "..."
    return value
