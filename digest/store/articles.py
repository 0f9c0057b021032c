"""Articles and their topics: upsert by canonical URL (then GUID), the weekly query."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.models import Article, slugify
from digest.store.columns import from_db_time, insert_row, to_db_time, transaction


def content_hash(article: Article) -> str:
    """A fingerprint of what an import can change, to tell 'updated' from 'unchanged'."""
    fields = [
        article.title,
        article.body,
        article.excerpt,
        article.author,
        to_db_time(article.published_at),
        article.status,
        str(int(article.featured)),
        repr(article.score),
        article.image_url,
        article.image_alt,
        f"{article.image_width}x{article.image_height}",
        "\x1f".join(article.topics),
        article.guid,
    ]
    return hashlib.sha256("\x1e".join(fields).encode()).hexdigest()


def upsert_article(db: Database, article: Article, now: datetime) -> str:
    """Insert or update by canonical URL (or GUID); return added, updated or unchanged."""
    digest_ = content_hash(article)
    existing = _find_article(db, article.url, article.guid)
    row = _article_row(article, digest_, now)
    with transaction(db):
        if existing is None:
            row["created_at"] = row["updated_at"]
            article_id = insert_row(db, "articles", row)
            outcome = "added"
        elif existing["content_hash"] == digest_ and existing["url"] == article.url:
            return "unchanged"
        else:
            article_id = existing["id"]
            db.table("articles").update(article_id, row)
            outcome = "updated"
        _set_article_topics(db, int(article_id), article.topics)
    return outcome


# The index on guid is partial (`WHERE guid != ''`); SQLite uses a partial index for a
# bound parameter only when the query's WHERE repeats the index's, so this one does.
# Without it every lookup scans the table and an import is quadratic in the store.
GUID_LOOKUP = "SELECT id, url, content_hash FROM articles WHERE guid = ? AND guid != ''"
# The same for the partial index on sized pictures (`WHERE image_width > 0`).
PICTURE_SIZES = (
    "SELECT image_url, image_width, image_height FROM articles "
    "WHERE image_url IN ({marks}) AND image_width > 0"
)


def _find_article(db: Database, url: str, guid: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, url, content_hash FROM articles WHERE url = ?", [url]))
    if not rows and guid:
        rows = list(db.query(GUID_LOOKUP, [guid]))
    return rows[0] if rows else None


def _article_row(a: Article, digest_: str, now: datetime) -> dict[str, Any]:
    return {
        "url": a.url,
        "guid": a.guid,
        "title": a.title,
        "body": a.body,
        "excerpt": a.excerpt,
        "author": a.author,
        "published_at": to_db_time(a.published_at),
        "status": a.status,
        "featured": int(a.featured),
        "score": a.score,
        "image_url": a.image_url,
        "image_alt": a.image_alt,
        "image_width": a.image_width,
        "image_height": a.image_height,
        "content_hash": digest_,
        "updated_at": to_db_time(now),
    }


def _set_article_topics(db: Database, article_id: int, topics: Sequence[str]) -> None:
    db.execute("DELETE FROM article_topics WHERE article_id = ?", [article_id])
    for position, name in enumerate(topics):
        slug = slugify(name)
        db.execute("INSERT OR IGNORE INTO topics (slug, name) VALUES (?, ?)", [slug, name])
        db.execute(
            "INSERT OR IGNORE INTO article_topics (article_id, topic_id, position) "
            "SELECT ?, id, ? FROM topics WHERE slug = ?",
            [article_id, position, slug],
        )


def published_at_of(db: Database, url: str) -> datetime | None:
    """The stored publication time of the article at ``url``."""
    rows = list(db.query("SELECT published_at FROM articles WHERE url = ?", [url]))
    return from_db_time(rows[0]["published_at"]) if rows else None


def published_articles(db: Database, start: datetime, end: datetime) -> list[Article]:
    """Published articles with ``start <= published_at < end``, oldest first (the
    ranking is `content.sections.rank_articles`'s alone)."""
    rows = db.query(
        "SELECT * FROM articles WHERE status = 'published' "
        "AND published_at >= ? AND published_at < ? "
        "ORDER BY published_at, id",
        [to_db_time(start), to_db_time(end)],
    )
    return _with_topics(db, list(rows))


def all_articles(db: Database) -> list[Article]:
    """Every article, newest first."""
    rows = db.query("SELECT * FROM articles ORDER BY published_at DESC, id DESC")
    return _with_topics(db, list(rows))


def _with_topics(db: Database, rows: list[dict[str, Any]]) -> list[Article]:
    topics: dict[int, list[str]] = {}
    ids = [r["id"] for r in rows]
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for t in db.query(
            "SELECT at.article_id, t.name FROM article_topics at "
            f"JOIN topics t ON t.id = at.topic_id WHERE at.article_id IN ({marks}) "
            "ORDER BY at.article_id, at.position",
            chunk,
        ):
            topics.setdefault(t["article_id"], []).append(t["name"])
    return [_article(r, tuple(topics.get(r["id"], ()))) for r in rows]


def _article(r: dict[str, Any], topics: tuple[str, ...]) -> Article:
    return Article(
        id=r["id"],
        url=r["url"],
        title=r["title"],
        body=r["body"],
        excerpt=r["excerpt"],
        author=r["author"],
        published_at=from_db_time(r["published_at"]),
        topics=topics,
        featured=bool(r["featured"]),
        score=r["score"],
        image_url=r["image_url"],
        image_alt=r["image_alt"],
        image_width=r["image_width"],
        image_height=r["image_height"],
        status=r["status"],
        guid=r["guid"],
    )


def all_topics(db: Database) -> list[tuple[str, str]]:
    """Every known topic as (slug, name), by name."""
    rows = db.query("SELECT slug, name FROM topics ORDER BY name COLLATE NOCASE")
    return [(r["slug"], r["name"]) for r in rows]


def newest_published_before(db: Database, before: datetime) -> datetime | None:
    """When the newest published article before ``before`` came out, if any."""
    row = db.conn.execute(
        "SELECT max(published_at) FROM articles WHERE status = 'published' AND published_at < ?",
        (to_db_time(before),),
    ).fetchone()
    return from_db_time(row[0]) if row and row[0] else None


def picture_sizes(db: Database, image_urls: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The size stored with each picture address that has one (from an earlier import)."""
    found: dict[str, tuple[int, int]] = {}
    wanted = list(dict.fromkeys(image_urls))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.query(PICTURE_SIZES.format(marks=marks), chunk):
            found[r["image_url"]] = (r["image_width"], r["image_height"])
    return found


def article_by_key(db: Database, url: str, guid: str) -> Article | None:
    """The article with this canonical URL, else with this guid (the API's key)."""
    rows = list(db.query("SELECT * FROM articles WHERE url = ?", [url])) if url else []
    if not rows and guid:
        rows = list(db.query("SELECT * FROM articles WHERE guid = ? ORDER BY id LIMIT 1", [guid]))
    found = _with_topics(db, rows)
    return found[0] if found else None
