"""Articles in from RSS 0.9x/1.0/2.0 and Atom feeds, parsed with feedparser.

Fetching is our own (urllib): conditional GET with ETag and Last-Modified, a timeout,
a size cap, gzip, a user agent. Each entry becomes an Article with a canonical URL;
an entry that cannot be used is skipped with its reason, and a feed that cannot be
read at all is reported without stopping the others.
"""

from __future__ import annotations

import calendar
import re
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from sqlite_utils import Database

from digest import __version__, store
from digest.config import Config
from digest.content.boilerplate import PageImage
from digest.content.ingest import canonical_url, check_year, import_articles
from digest.content.summarize import fit_text, html_to_text, plain_text
from digest.errors import IngestError, RowError
from digest.models import Article, ImportCounts

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Fetched:
    """What a fetch got: the bytes (None when not modified) and the validators."""

    data: bytes | None
    etag: str = ""
    modified: str = ""
    base_url: str = ""
    content_type: str = ""


@dataclass
class FeedReport(ImportCounts):
    """The outcome of one feed's import: the counts, the feed's status and its problem."""

    source: str = ""
    status: str = "ok"  # ok, not-modified, error
    problem: str = ""  # the feed-level error, or feedparser's bozo complaint


def fetch(
    url: str,
    *,
    etag: str = "",
    modified: str = "",
    timeout: float,
    max_bytes: int,
    user_agent: str,
) -> Fetched:
    """GET a feed, conditionally; IngestError naming the URL for any failure."""
    headers = {
        "User-Agent": user_agent,
        "Accept-Encoding": "gzip",
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
        "text/xml;q=0.8, */*;q=0.1",
    }
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise IngestError(f"{url}: larger than [feeds] max_bytes = {max_bytes}")
            if response.headers.get("Content-Encoding", "").lower() == "gzip":
                raw = _gunzip(raw, max_bytes, url)
            return Fetched(
                raw,
                response.headers.get("ETag", ""),
                response.headers.get("Last-Modified", ""),
                response.geturl(),
                response.headers.get("Content-Type", ""),
            )
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return Fetched(None, etag, modified, url)
        raise IngestError(f"{url}: the server answered HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise IngestError(f"{url}: cannot fetch it ({e.reason})") from e
    except (TimeoutError, OSError) as e:
        raise IngestError(f"{url}: cannot fetch it ({e or 'timed out'})") from e


def _gunzip(raw: bytes, max_bytes: int, source: str) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as e:
        raise IngestError(f"{source}: broken gzip data ({e})") from e
    if len(data) > max_bytes:
        raise IngestError(f"{source}: larger than [feeds] max_bytes = {max_bytes} unpacked")
    return data


def read_file(path: Path, max_bytes: int) -> Fetched:
    """A feed from a file (gzipped or not)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}. Check the path.") from e
    if raw.startswith(_GZIP_MAGIC):
        raw = _gunzip(raw, max_bytes, str(path))
    return Fetched(raw)


def parse(fetched: Fetched) -> Any:
    """feedparser's view of the bytes, with the fetch URL as the base for relative links."""
    headers = {}
    if fetched.base_url:
        headers["content-location"] = fetched.base_url
    if fetched.content_type:
        headers["content-type"] = fetched.content_type
    return feedparser.parse(
        fetched.data, response_headers=headers, sanitize_html=True, resolve_relative_uris=True
    )


def entry_articles(
    parsed: Any, *, now: datetime, aliases: Mapping[str, str], topic: str = ""
) -> list[tuple[str, Article | RowError]]:
    """(entry label, Article or why it was skipped) for each entry of a parsed feed."""
    feed = parsed.get("feed", {})
    base = feed_base(feed)
    feed_date = _date(_first_date(feed))
    seen_guids: set[str] = set()
    results: list[tuple[str, Article | RowError]] = []
    for index, entry in enumerate(parsed.get("entries", []), start=1):
        label = str(entry.get("id") or entry.get("link") or f"entry {index}")[:200]
        try:
            guid = str(entry.get("id") or "")
            if guid and guid in seen_guids:
                raise RowError("duplicate GUID in this feed; the first entry was kept", guid)
            seen_guids.add(guid)
            results.append((label, _article(entry, base, feed_date or now, aliases, topic)))
        except RowError as e:
            results.append((label, e))
    return results


def _article(
    entry: Any, base: str, fallback_date: datetime, aliases: Mapping[str, str], topic: str
) -> Article:
    body = _body(entry)
    published = _date(_first_date(entry)) or fallback_date
    check_year(published, published.isoformat())
    url = _link(entry, base)
    image = _image(entry, url)
    return Article(
        id=0,
        url=url,
        title=_title(entry, body),
        published_at=published,
        body=body,
        author=html_to_text(entry.get("author", "") or "").replace("\n\n", " "),
        topics=_topics(entry, aliases, topic),
        guid=str(entry.get("id") or ""),
        image_url=image.url,
        image_alt=image.alt,
        image_width=image.width,
        image_height=image.height,
    )


def _image(entry: Any, base: str) -> PageImage:
    """An entry's picture: media:content or media:thumbnail (Media RSS), else an image
    enclosure; its description from media:description or media:title."""
    candidates = [
        *(m for m in entry.get("media_content", []) or [] if _is_image(m)),
        *(entry.get("media_thumbnail", []) or []),
        *(
            {"url": e.get("href", "")}
            for e in entry.get("enclosures", []) or []
            if str(e.get("type", "")).startswith("image/")
        ),
    ]
    alt = html_to_text(str(entry.get("media_description") or entry.get("media_title") or ""))
    for found in candidates:
        try:
            url = canonical_url(str(found.get("url") or ""), base)
        except RowError:
            continue
        return PageImage(
            url, " ".join(alt.split()), _int(found.get("width")), _int(found.get("height"))
        )
    return PageImage("")


def _is_image(media: Any) -> bool:
    kind = str(media.get("medium") or media.get("type") or "")
    return kind == "image" or kind.startswith("image/")


def _int(value: Any) -> int:
    text = str(value or "")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 0


def feed_base(feed: Any) -> str:
    """What relative entry links resolve against when no xml:base says: the feed's
    alternate (site) link, else its own rel="self" address, as feed readers do.
    (feedparser has already applied xml:base and the URL the feed was fetched from.)"""
    if feed.get("link"):
        return str(feed["link"])
    for link in feed.get("links", []) or []:
        if link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return ""


def _link(entry: Any, base: str) -> str:
    candidates = [entry.get("link", "")]
    guid = str(entry.get("id") or "")
    if entry.get("guidislink") or re.match(r"^https?://", guid, re.I):
        candidates.append(guid)  # a permalink GUID stands in for a missing link
    for link in (c for c in candidates if c):
        try:
            return canonical_url(str(link), base or None)
        except RowError:
            continue
    raise RowError("no usable link or permalink GUID", entry.get("link") or guid or None)


def _title(entry: Any, body: str) -> str:
    title = html_to_text(entry.get("title", "") or "").replace("\n\n", " ").strip()
    if title:
        return title
    fallback = fit_text(plain_text(body).split("\n\n")[0] if body else "", 80)
    if not fallback:
        raise RowError("no title and no text to name the entry by")
    return fallback


def _body(entry: Any) -> str:
    contents = entry.get("content") or []
    html_first = sorted(contents, key=lambda c: "html" not in str(c.get("type", "")))
    for content in html_first:
        if str(content.get("value", "")).strip():
            return str(content["value"])
    return str(entry.get("summary", "") or "")


def _first_date(item: Any) -> Any:
    # dict.get, not item.get: feedparser's own get maps 'updated' to 'published' with a
    # DeprecationWarning. Published first, then updated.
    return dict.get(item, "published_parsed") or dict.get(item, "updated_parsed")


def _date(parsed: Any) -> datetime | None:
    # feedparser normalises every date it understands to a UTC struct_time.
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _topics(entry: Any, aliases: Mapping[str, str], topic: str) -> tuple[str, ...]:
    names = [topic] if topic else []
    for tag in entry.get("tags") or []:
        term = html_to_text(str(tag.get("term") or tag.get("label") or "")).strip()
        if term:
            names.append(aliases.get(term.lower(), term))
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.lower(), name)
    return tuple(unique.values())


def looks_like_feed(source: str) -> bool:
    """True for http(s) URLs and files named like feeds."""
    if re.match(r"^https?://", source, re.I):
        return True
    return Path(source).suffix.lower() in (".xml", ".rss", ".atom", ".rdf", ".gz")


def import_feed(
    db: Database,
    config: Config,
    source: str,
    now: datetime,
    *,
    topic: str = "",
    etag: str = "",
    modified: str = "",
) -> tuple[FeedReport, Fetched | None]:
    """Fetch (or read) one feed and upsert its entries; feed-level failures are reported."""
    report = FeedReport(source=source)
    settings = config.feeds
    try:
        if re.match(r"^https?://", source, re.I):
            agent = settings.user_agent or f"digest/{__version__} (+{config.base_url})"
            fetched = fetch(
                source,
                etag=etag,
                modified=modified,
                timeout=settings.timeout,
                max_bytes=settings.max_bytes,
                user_agent=agent,
            )
        else:
            fetched = read_file(Path(source), settings.max_bytes)
    except IngestError as e:
        report.status, report.problem = "error", str(e)
        return report, None
    if fetched.data is None:
        report.status = "not-modified"
        return report, fetched
    parsed = parse(fetched)
    if parsed.get("bozo") and not parsed.get("entries"):
        report.status = "error"
        report.problem = f"not a readable feed: {parsed.get('bozo_exception')}"
        return report, fetched
    if parsed.get("bozo"):
        report.problem = (
            f"partly broken, imported what was readable: {parsed.get('bozo_exception')}"
        )
    for label, item in entry_articles(parsed, now=now, aliases=config.topic_aliases, topic=topic):
        if isinstance(item, RowError):
            report.reject(item.reason, item.value, entry=label)
            continue
        outcome = store.upsert_article(db, item, now)
        report.tally(outcome)
    return report, fetched


def import_configured_feeds(db: Database, config: Config, now: datetime) -> list[FeedReport]:
    """Import every feed added with `feeds add`, one at a time; none stops the others."""
    reports = []
    for feed in store.list_feeds(db):
        report, fetched = import_feed(
            db, config, feed.url, now, topic=feed.topic, etag=feed.etag, modified=feed.modified
        )
        store.record_feed_fetch(
            db,
            feed.url,
            report.status,
            report.problem if report.status == "error" else "",
            fetched.etag if fetched else feed.etag,
            fetched.modified if fetched else feed.modified,
            now,
        )
        reports.append(report)
    return reports


def add_feed(db: Database, url: str, topic: str, now: datetime) -> tuple[str, str]:
    """`feeds add`: the feed's canonical address and added, updated or unchanged."""
    try:
        address = canonical_url(url)
    except RowError as e:
        raise RowError(f"{url!r}: {e.reason}.", url) from e
    return address, store.add_feed(db, address, topic.strip(), now)


def remove_feed(db: Database, url: str) -> str:
    """`feeds remove`: stop reading a feed (its articles stay); return its address."""
    try:
        address = canonical_url(url)
    except RowError:
        address = url
    if not store.remove_feed(db, address):
        raise IngestError(f"{url} is not in the feed list; see `feeds list`.")
    return address


def list_feeds(db: Database) -> list[store.FeedRow]:
    """`feeds list`: every configured feed with how its last fetch went."""
    return store.list_feeds(db)


@dataclass
class SourceImport:
    """What `import` did: one report for a file, or one per feed."""

    file: ImportCounts | None = None
    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def failed_feeds(self) -> list[FeedReport]:
        """The feeds that could not be read at all."""
        return [f for f in self.feeds if f.status == "error"]


def import_source(
    db: Database, config: Config, source: str | None, fmt: str, now: datetime
) -> SourceImport:
    """`import`: a feed (URL, feed file or ``fmt == "feed"``), a JSONL/CSV file, or with
    no source every configured feed. One bad row or feed never stops the rest."""
    if source is None:
        return SourceImport(feeds=import_configured_feeds(db, config, now))
    if fmt == "feed" or (fmt == "auto" and looks_like_feed(source)):
        return SourceImport(feeds=[import_feed(db, config, source, now)[0]])
    return SourceImport(file=import_articles(db, Path(source), fmt, config.tz, now))
