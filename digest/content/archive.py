"""The public archive: each edition as a web page (the "view in browser" target), an
index of all editions, and an Atom feed of them, written as static files.

Pages are written when an edition is frozen, before its first message leaves, so the
link in the email works from the first delivery. `digest serve` serves the folder.
"""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.copies import web_version
from digest.content.frozen import edition_from_payload
from digest.content.render import week_label
from digest.errors import ArchiveError
from digest.language import Language, language
from digest.models import Edition


def publish_edition(config: Config, db: Database, edition: Edition, now: datetime) -> Path:
    """Write the edition's page, then the index and the feed; return the page's path.

    ArchiveError when a file cannot be written: the send stops before any message
    links a page that is not there, and the next `send` writes it again.
    """
    folder = config.archive_path
    page = page_path(config, edition.week.label)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(page, web_version(config, edition))
        write_index(config, db, now)
    except OSError as e:
        raise ArchiveError(
            f"Cannot write the web version of {edition.week.label} under {folder}: "
            f"{e.strerror or e}. Check [archive] path (a writable folder with free space), "
            "then run `send` again: it writes the page before the first message goes."
        ) from e
    return page


def page_path(config: Config, week: str) -> Path:
    """Where the web version of ``week`` lives."""
    return config.archive_path / f"{week}.html"


def is_published(config: Config, week: str) -> bool:
    """True once the web version of ``week`` is written."""
    return page_path(config, week).is_file()


def write_index(config: Config, db: Database, now: datetime) -> None:
    """index.html, feed.xml and sitemap.xml over every frozen edition, newest first
    (no sitemap with `[archive] noindex`)."""
    rows = [(row, edition_from_payload(config, row.payload)) for row, _ in store.list_editions(db)]
    folder = config.archive_path
    _write(folder / "index.html", _index_html(config, [(r.subject, e) for r, e in rows]))
    dated = [(r.subject, r.created_at, e) for r, e in rows]
    _write(folder / "feed.xml", _atom(config, dated, now))
    sitemap = folder / "sitemap.xml"
    if config.archive.noindex:
        sitemap.unlink(missing_ok=True)
    else:
        _write(sitemap, _sitemap(config, dated, now))


def _sitemap(config: Config, editions: list[tuple[str, str, Edition]], now: datetime) -> str:
    """The sitemaps.org list of the archive: its index and each edition's page."""
    base = f"{config.base_url}/archive/"
    newest = max((created for _, created, _ in editions), default=store.to_db_time(now))
    urls = [(base, newest)] + [(f"{base}{e.week.label}.html", c) for _, c, e in editions]
    entries = "".join(
        f"<url><loc>{html.escape(url)}</loc><lastmod>{stamp[:10]}</lastmod></url>\n"
        for url, stamp in urls
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</urlset>\n"
    )


def _index_html(config: Config, editions: list[tuple[str, Edition]]) -> str:
    name = html.escape(config.newsletter.name)
    words = language(config.newsletter.language)
    items = "\n".join(
        f'<li><a href="{e.week.label}.html">{html.escape(week_label(config, e))}</a>'
        f'<br><span dir="auto">{html.escape(_top_titles(words, e))}</span></li>'
        for _, e in editions
    )
    all_editions = html.escape(words.gettext("%(name)s: all editions") % {"name": name})
    every = html.escape(words.gettext("Every edition, newest first."))
    feed = html.escape(words.gettext("Atom feed"))
    return (
        f'<!DOCTYPE html>\n<html lang="{words.tag}" dir="{words.direction}">\n<head>\n'
        '<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{all_editions}</title>\n"
        f'<link rel="canonical" href="{html.escape(config.base_url)}/archive/">\n'
        f'<meta name="description" content="{every}">\n'
        + ('<meta name="robots" content="noindex">\n' if config.archive.noindex else "")
        + f'<link rel="alternate" type="application/atom+xml" title="{name}" href="feed.xml">\n'
        "<style>body{font-family:Helvetica,Arial,sans-serif;max-width:600px;margin:40px auto;"
        "padding:0 16px;color:#1f2933}a{color:#0b3d62;font-weight:bold}li{margin:0 0 16px}"
        "span{color:#616e7c;font-size:14px}</style>\n</head>\n<body>\n"
        f'<h1>{name}</h1>\n<p>{every} <a href="feed.xml">{feed}</a></p>\n'
        f"<ul>\n{items}\n</ul>\n"
        f"<p><small>{html.escape(config.newsletter.postal_address)}</small></p>\n"
        "</body>\n</html>\n"
    )


def _atom(config: Config, editions: list[tuple[str, str, Edition]], now: datetime) -> str:
    base = f"{config.base_url}/archive/"
    words = language(config.newsletter.language)
    updated = max((created for _, created, _ in editions), default=store.to_db_time(now))
    entries = "".join(
        f"<entry><title>{html.escape(subject)}</title>"
        f'<link rel="alternate" type="text/html" href="{base}{e.week.label}.html"/>'
        f"<id>{base}{e.week.label}.html</id><updated>{created}</updated>"
        f"<summary>{html.escape(_top_titles(words, e))}</summary></entry>\n"
        for subject, created, e in editions
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>{html.escape(config.newsletter.name)}</title>\n"
        f'<link rel="self" href="{base}feed.xml"/>\n<link rel="alternate" href="{base}"/>\n'
        f"<id>{base}</id>\n<updated>{updated}</updated>\n"
        f"<author><name>{html.escape(config.newsletter.name)}</name></author>\n"
        f"{entries}</feed>\n"
    )


def _top_titles(words: Language, edition: Edition) -> str:
    """The edition's three best titles, and how many more the week has (its web
    version carries them all)."""
    shown = [a for s in edition.sections for a in s.articles]
    ranked = sorted(edition.candidates or shown, key=lambda a: a.rank)
    titles = "; ".join(a.title for a in ranked[:3])
    rest = len(ranked) - 3
    if rest <= 0:
        return titles
    return words.ngettext(
        "%(titles)s and %(count)d more", "%(titles)s and %(count)d more", rest
    ) % {
        "titles": titles,
        "count": rest,
    }


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
