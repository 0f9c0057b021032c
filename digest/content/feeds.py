"""Articles in from RSS 0.9x/1.0/2.0 and Atom feeds, parsed with feedparser.

Fetching is `fetching`'s (urllib: conditional GET, a timeout, a size cap, gzip, a user
agent; the size of a picture from its first bytes). Each entry becomes an Article with
a canonical URL;
an entry that cannot be used is skipped with its reason, and a feed that cannot be
read at all is reported without stopping the others.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import feedparser
from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content import dates
from digest.content.blocks import html_to_text
from digest.content.boilerplate import is_full_page
from digest.content.fetching import (
    Fetched,
    fetch,
    picture_sizes,
    reach_of,
    read_file,
    user_agent,
)
from digest.content.images import (
    PageImage,
    best_image,
    body_images,
    is_picture_media,
    looks_like_picture_file,
    page_image,
    pixels,
    registered_site,
)
from digest.content.ingest import canonical_url, check_year, import_articles
from digest.content.summarize import fit_text, plain_text
from digest.errors import IngestError, RowError
from digest.models import Article, ImportCounts

_ABSOLUTE = re.compile(r"^https?://[^/]", re.I)


@dataclass
class FeedReport(ImportCounts):
    """The outcome of one feed's import: the counts, the feed's status and its problem."""

    source: str = ""
    status: str = "ok"  # ok, not-modified, error
    problem: str = ""  # the feed-level error, or feedparser's bozo complaint


def parse(fetched: Fetched) -> Any:
    """feedparser's view of the bytes, with the fetch URL as the base for relative links
    and dates in other languages read (`dates.install`)."""
    dates.install()
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
    if _is_advert(body, url, base):
        raise RowError(
            "an advertisement the feed carries (a linked picture without text, to another "
            "site), not an article",
            url,
        )
    image = _image(entry, url, body)
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


def _image(entry: Any, base: str, body: str) -> PageImage:
    """An entry's picture: the best of its Media RSS items (media:content with or
    without a medium, media:thumbnail), its image enclosures and, failing those, the
    pictures in its body (a full page's og:image, else its <img> tags); described by
    media:description or media:title, else the picture's own alt text."""
    media = [
        PageImage(str(m.get("url") or ""), "", pixels(m.get("width")), pixels(m.get("height")))
        for m in [*(entry.get("media_content") or []), *(entry.get("media_thumbnail") or [])]
        if is_picture_media(str(m.get("url") or ""), str(m.get("medium") or m.get("type") or ""))
    ]
    for enclosure in entry.get("enclosures") or []:
        href, kind = str(enclosure.get("href") or ""), str(enclosure.get("type") or "")
        if kind.startswith("image/") or (not kind and looks_like_picture_file(href)):
            media.append(PageImage(href))
    if not media and body:
        found = page_image(body) if is_full_page(body) else None
        media = [found] if found else body_images(body, registered_site(base))
    best = best_image(_absolute(m, base) for m in media)
    alt = " ".join(html_to_text(_caption(entry, body)).split()) or best.alt
    return replace(best, alt=alt) if best.url else best


def _is_advert(body: str, url: str, base: str) -> bool:
    """An entry an ad network put in the feed: its body only a linked picture, no text,
    and its link to another site than the feed's."""
    if not body or "<img" not in body.lower() or "<a" not in body.lower():
        return False
    if any(c.isalnum() for c in html_to_text(body)):
        return False
    return bool(base) and registered_site(url) != registered_site(base)


def _absolute(image: PageImage, base: str) -> PageImage:
    try:
        return replace(image, url=canonical_url(image.url, base or None))
    except RowError:
        return PageImage("")


def feed_base(feed: Any) -> str:
    """What relative entry links resolve against when no xml:base says: the feed's
    alternate (site) link, itself resolved against the feed's own rel="self" address
    when it is relative, else that address, as feed readers do. (feedparser has already
    applied xml:base and the URL the feed was fetched from.)"""
    own = next(
        (
            str(link.get("href"))
            for link in feed.get("links", []) or []
            if link.get("rel") == "self" and _ABSOLUTE.match(str(link.get("href") or ""))
        ),
        "",
    )
    site = str(feed.get("link") or "")
    if site and own:
        site = urljoin(own, site)
    return site if _ABSOLUTE.match(site) else own or site


def _link(entry: Any, base: str) -> str:
    """The entry's address: the original a feed proxy names (FeedBurner's and Pheedo's
    ``origLink``, instead of its ``feeds.feedburner.com/~r/...`` redirect), else its
    link, else a permalink GUID."""
    originals = [
        str(value)
        for key, value in entry.items()
        if str(key).endswith("_origlink") and _ABSOLUTE.match(str(value or "").strip())
    ]
    candidates = [*(o.strip() for o in originals), entry.get("link", "")]
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
    """The fullest text the entry offers: its HTML content (content:encoded, Atom
    content) first, else its summary when it has Media RSS pictures (feedparser files
    their media:description, a caption, as plain content), else the longest of its
    plain contents and its summary."""
    contents = [c for c in entry.get("content") or [] if str(c.get("value", "")).strip()]
    html = [str(c["value"]) for c in contents if "html" in str(c.get("type", ""))]
    if html:
        return max(html, key=len)
    summary = str(entry.get("summary", "") or "")
    if summary.strip() and entry.get("media_content"):
        return summary  # its plain content is a picture's caption
    return max([summary, *(str(c["value"]) for c in contents)], key=len)


def _caption(entry: Any, body: str) -> str:
    """A picture's description: media:description or media:title, which feedparser
    files as a plain content of the entry, when it is not the body."""
    named = str(entry.get("media_description") or entry.get("media_title") or "")
    if named or not entry.get("media_content"):
        return named
    plain = [
        str(c.get("value", ""))
        for c in entry.get("content") or []
        if "html" not in str(c.get("type", "")) and str(c.get("value", "")) != body
    ]
    return min(plain, key=len) if plain else ""


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
    """The entry's categories, the feed's own topic first: a category holding a list
    ("Botany, Microbiology") is each of them; a path's trailing slash goes."""
    names = [topic] if topic else []
    for tag in entry.get("tags") or []:
        term = html_to_text(str(tag.get("term") or tag.get("label") or ""))
        for part in re.split(r"\s*[,;]\s*", term):
            part = part.strip().strip("/").strip()
            if part:
                names.append(aliases.get(part.lower(), part))
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
            fetched = fetch(
                source,
                etag=etag,
                modified=modified,
                timeout=settings.timeout,
                max_bytes=settings.max_bytes,
                user_agent=user_agent(config),
                reach=reach_of(config),
            )
        else:
            fetched = read_file(local_feed_path(source), settings.max_bytes)
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
    entries = entry_articles(parsed, now=now, aliases=config.topic_aliases, topic=topic)
    if re.match(r"^https?://", source, re.I) and settings.image_sizes:
        entries = _with_picture_sizes(db, config, entries, source)
    for label, item in entries:
        if isinstance(item, RowError):
            report.reject(item.reason, item.value, entry=label)
            continue
        outcome = store.upsert_article(db, item, now)
        report.tally(outcome)
    return report, fetched


def _with_picture_sizes(
    db: Database, config: Config, entries: list[tuple[str, Article | RowError]], feed: str
) -> list[tuple[str, Article | RowError]]:
    """Entries whose picture has no stated size, given the size stored from an earlier
    import or read from the picture's first bytes: it goes on the img tag (Outlook),
    and a small picture is never stretched. A picture is fetched only from a public
    address or the feed's own host (`fetching.Reach`)."""
    unsized = [
        a.image_url
        for _, a in entries
        if isinstance(a, Article) and a.image_url and not a.image_width
    ]
    sizes = store.picture_sizes(db, unsized)
    sizes |= picture_sizes(
        [u for u in unsized if u not in sizes],
        timeout=min(config.feeds.timeout, 10.0),
        agent=user_agent(config),
        reach=reach_of(config).trusting(feed),
    )
    return [
        (label, replace(a, image_width=sizes[a.image_url][0], image_height=sizes[a.image_url][1]))
        if isinstance(a, Article) and a.image_url in sizes and not a.image_width
        else (label, a)
        for label, a in entries
    ]


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
    """`feeds add`: the feed's address (a canonical URL, or a feed file's absolute path)
    and added, updated or unchanged."""
    return (address := feed_address(url)), store.add_feed(db, address, topic.strip(), now)


def feed_address(source: str) -> str:
    """Where a feed is read from, as the feed list keeps it: an http(s) URL made
    canonical, or a local file (a path or a ``file://`` URL) as its absolute path, so
    the scheduled run finds it from any folder."""
    if re.match(r"^https?://", source, re.I):
        try:
            return canonical_url(source)
        except RowError as e:
            raise RowError(f"{source!r}: {e.reason}.", source) from e
    if re.match(r"^[a-z][a-z0-9+.-]*://", source, re.I) and not _is_file_url(source):
        raise RowError(
            f"{source!r}: a feed is an http(s) URL, a file:// URL or the path of a feed file.",
            source,
        )
    path = local_feed_path(source)
    if not path.is_file():
        raise RowError(
            f"{source!r}: there is no feed file at {path}. Give a feed's http(s) URL, or the "
            "path of a feed file that exists.",
            source,
        )
    return str(path)


def local_feed_path(source: str) -> Path:
    """A feed file's absolute path, from a path or a ``file://`` URL."""
    if _is_file_url(source):
        return Path(url2pathname(urlsplit(source).path)).resolve()
    return Path(source).expanduser().resolve()


def _is_file_url(source: str) -> bool:
    return source.lower().startswith("file://")


def remove_feed(db: Database, url: str) -> str:
    """`feeds remove`: stop reading a feed (its articles stay); return its address. A
    feed file that is gone is found by its path as given too."""
    if re.match(r"^https?://", url, re.I):
        candidates = [feed_address(url), url]
    else:
        candidates = [str(local_feed_path(url)), url]
    for address in dict.fromkeys(candidates):
        if store.remove_feed(db, address):
            return address
    raise IngestError(f"{url} is not in the feed list; see `feeds list`.")


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
    if _is_file_url(source):
        source = str(local_feed_path(source))
    if fmt == "feed" or (fmt == "auto" and looks_like_feed(source)):
        return SourceImport(feeds=[import_feed(db, config, source, now)[0]])
    return SourceImport(file=import_articles(db, Path(source), fmt, config.tz, now))
