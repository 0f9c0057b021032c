"""The SQLite store: schema, migrations and every query the other stages need.

Times are stored as UTC text, ``YYYY-MM-DDTHH:MM:SSZ``, so that text order is time order.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from digest.errors import EditionError, StoreError
from digest.models import Article, RenderedVariant, Subscriber, slugify

migrations = Migrations("digest")


@migrations()
def m001_initial(db: Database) -> None:
    """Articles, topics, subscribers, editions and the delivery ledger."""
    for statement in _SCHEMA_V1:
        db.execute(statement)


_SCHEMA_V1 = [
    """CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        guid TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        excerpt TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        published_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'draft')),
        featured INTEGER NOT NULL DEFAULT 0,
        score REAL NOT NULL DEFAULT 0,
        image_url TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # The weekly query: published articles in a time window.
    "CREATE INDEX articles_status_published ON articles (status, published_at)",
    "CREATE INDEX articles_guid ON articles (guid) WHERE guid != ''",
    """CREATE TABLE topics (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL
    )""",
    """CREATE TABLE article_topics (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        topic_id INTEGER NOT NULL REFERENCES topics (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (article_id, topic_id)
    )""",
    "CREATE INDEX article_topics_topic ON article_topics (topic_id)",
    """CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced')),
        topics TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX subscribers_email ON subscribers (email COLLATE NOCASE)",
    "CREATE INDEX subscribers_status ON subscribers (status, id)",
    """CREATE TABLE editions (
        id INTEGER PRIMARY KEY,
        week TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'frozen' CHECK (status IN ('frozen', 'sent')),
        created_at TEXT NOT NULL,
        finished_at TEXT
    )""",
    # One sender per edition and shard: the row is the lock, with a lease.
    """CREATE TABLE edition_locks (
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        shard TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires TEXT NOT NULL,
        PRIMARY KEY (edition_id, shard)
    )""",
    """CREATE TABLE edition_variants (
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        article_count INTEGER NOT NULL,
        PRIMARY KEY (edition_id, key)
    )""",
    """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        variant TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
            ('pending', 'sent', 'deferred', 'failed', 'bounced', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        UNIQUE (edition_id, subscriber_id)
    )""",
    # The sender walks one edition's open deliveries in subscriber order.
    "CREATE INDEX deliveries_open ON deliveries (edition_id, status, subscriber_id)",
]


@migrations()
def m002_subscriber_events(db: Database) -> None:
    """Who left or changed their choice, when and how: the audit trail for compliance."""
    db.execute(
        """CREATE TABLE subscriber_events (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            event TEXT NOT NULL,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id)")


@migrations()
def m003_feeds(db: Database) -> None:
    """The feeds `import --feeds` reads, with their validators and error counts."""
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            topic TEXT NOT NULL DEFAULT '',
            etag TEXT NOT NULL DEFAULT '',
            modified TEXT NOT NULL DEFAULT '',
            last_fetched TEXT,
            last_status TEXT NOT NULL DEFAULT '',
            error_count INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )"""
    )


@migrations()
def m004_approvals(db: Database) -> None:
    """Held editions: when the editors got their test copy, and when one approved."""
    db.execute(
        """CREATE TABLE approvals (
            week TEXT PRIMARY KEY,
            requested_at TEXT NOT NULL,
            approved_at TEXT,
            approved_by TEXT NOT NULL DEFAULT ''
        )"""
    )


def to_db_time(moment: datetime) -> str:
    """A timezone-aware datetime as the store's UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; attach a timezone first")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db_time(text: str) -> datetime:
    """The store's UTC text as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def open_store(path: Path) -> Database:
    """Open (creating if needed) the store at ``path`` and bring its schema up to date."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30)
        db = Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except (sqlite3.Error, OSError) as e:
        raise StoreError(
            f"Cannot open the store at {path}: {e}. Check [store] path in the config "
            "and that the folder is writable."
        ) from e
    return db


# ---------------------------------------------------------------- articles


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
        "\x1f".join(article.topics),
        article.guid,
    ]
    return hashlib.sha256("\x1e".join(fields).encode()).hexdigest()


def upsert_article(db: Database, article: Article, now: datetime) -> str:
    """Insert or update by canonical URL (or GUID); return added, updated or unchanged."""
    digest_ = content_hash(article)
    existing = _find_article(db, article.url, article.guid)
    row = _article_row(article, digest_, now)
    with db.atomic():
        if existing is None:
            row["created_at"] = row["updated_at"]
            article_id = _insert(db, "articles", row)
            outcome = "added"
        elif existing["content_hash"] == digest_ and existing["url"] == article.url:
            return "unchanged"
        else:
            article_id = existing["id"]
            db.table("articles").update(article_id, row)
            outcome = "updated"
        _set_article_topics(db, int(article_id), article.topics)
    return outcome


def _insert(db: Database, table: str, row: dict[str, Any]) -> int:
    cursor = db.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


def _find_article(db: Database, url: str, guid: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, url, content_hash FROM articles WHERE url = ?", [url]))
    if not rows and guid:
        rows = list(db.query("SELECT id, url, content_hash FROM articles WHERE guid = ?", [guid]))
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
    """Published articles with ``start <= published_at < end``, best first."""
    rows = db.query(
        "SELECT * FROM articles WHERE status = 'published' "
        "AND published_at >= ? AND published_at < ? "
        "ORDER BY featured DESC, score DESC, published_at DESC, id",
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
        status=r["status"],
        guid=r["guid"],
    )


# ---------------------------------------------------------------- subscribers


def topics_key(topics: Sequence[str]) -> str:
    """The stored form of a topic choice: sorted unique slugs joined by commas."""
    return ",".join(sorted({slugify(t) for t in topics if slugify(t)}))


def add_subscriber(
    db: Database, email: str, name: str, topics: Sequence[str], now: datetime
) -> str:
    """Add a subscriber or update name/topics; return added, updated, unchanged or kept.

    An unsubscribed or bounced address is not re-activated ('kept'): that takes
    ``set_subscriber_status`` on purpose.
    """
    key = topics_key(topics)
    rows = list(db.query("SELECT * FROM subscribers WHERE email = ? COLLATE NOCASE", [email]))
    stamp = to_db_time(now)
    if not rows:
        db.table("subscribers").insert(
            {
                "email": email,
                "name": name,
                "topics": key,
                "status": "active",
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        return "added"
    row = rows[0]
    if row["status"] != "active":
        return "kept"
    if row["name"] == name and row["topics"] == key:
        return "unchanged"
    db.execute(
        "UPDATE subscribers SET name = ?, topics = ?, updated_at = ? WHERE id = ?",
        [name, key, stamp, row["id"]],
    )
    return "updated"


def set_subscriber_status(
    db: Database, email: str, status: str, now: datetime, source: str = "cli"
) -> bool:
    """Set a subscriber's status; False when no such address is on the list."""
    found = get_subscriber(db, email)
    if found is None:
        return False
    change_subscriber(db, found.id, now, source, status=status)
    return True


def change_subscriber(
    db: Database,
    subscriber_id: int,
    now: datetime,
    source: str,
    *,
    status: str | None = None,
    topics: Sequence[str] | None = None,
) -> bool:
    """Change status and/or topic choice, logging the event; False when nothing changed."""
    current = get_subscriber_by_id(db, subscriber_id)
    if current is None:
        return False
    new_status = status or current.status
    new_topics = topics_key(topics) if topics is not None else ",".join(current.topics)
    if new_status == current.status and new_topics == ",".join(current.topics):
        return False
    stamp = to_db_time(now)
    with db.atomic():
        db.execute(
            "UPDATE subscribers SET status = ?, topics = ?, updated_at = ? WHERE id = ?",
            [new_status, new_topics, stamp, subscriber_id],
        )
        event = new_status if new_status != current.status else "topics"
        db.execute(
            "INSERT INTO subscriber_events (subscriber_id, event, source, at) VALUES (?, ?, ?, ?)",
            [subscriber_id, event, source, stamp],
        )
    return True


def subscriber_events(db: Database, subscriber_id: int) -> list[tuple[str, str]]:
    """(event, source) pairs for one subscriber, oldest first."""
    rows = db.query(
        "SELECT event, source FROM subscriber_events WHERE subscriber_id = ? ORDER BY id",
        [subscriber_id],
    )
    return [(r["event"], r["source"]) for r in rows]


def get_subscriber_by_id(db: Database, subscriber_id: int) -> Subscriber | None:
    """The subscriber with this id."""
    rows = list(db.query("SELECT * FROM subscribers WHERE id = ?", [subscriber_id]))
    return _subscriber(rows[0]) if rows else None


def all_topics(db: Database) -> list[tuple[str, str]]:
    """Every known topic as (slug, name), by name."""
    rows = db.query("SELECT slug, name FROM topics ORDER BY name COLLATE NOCASE")
    return [(r["slug"], r["name"]) for r in rows]


def delete_subscriber(db: Database, email: str) -> bool:
    """Erase a subscriber and their delivery history; False when not on the list."""
    cursor = db.execute("DELETE FROM subscribers WHERE email = ? COLLATE NOCASE", [email])
    return cursor.rowcount > 0


def get_subscriber(db: Database, email: str) -> Subscriber | None:
    """The subscriber with this address, any case."""
    rows = list(db.query("SELECT * FROM subscribers WHERE email = ? COLLATE NOCASE", [email]))
    return _subscriber(rows[0]) if rows else None


def iter_subscribers(db: Database, status: str | None = None) -> Iterator[Subscriber]:
    """Subscribers in id order, optionally of one status."""
    if status:
        rows = db.query("SELECT * FROM subscribers WHERE status = ? ORDER BY id", [status])
    else:
        rows = db.query("SELECT * FROM subscribers ORDER BY id")
    return (_subscriber(r) for r in rows)


def active_topic_choices(db: Database) -> list[str]:
    """The distinct topic choices of active subscribers: one variant each."""
    rows = db.query("SELECT DISTINCT topics FROM subscribers WHERE status = 'active'")
    return sorted(r["topics"] for r in rows)


def _subscriber(r: dict[str, Any]) -> Subscriber:
    topics = tuple(t for t in r["topics"].split(",") if t)
    return Subscriber(r["id"], r["email"], r["name"], r["status"], topics)


# ---------------------------------------------------------------- editions


@dataclass(frozen=True)
class EditionRow:
    """An edition as stored: its frozen payload and state."""

    id: int
    week: str
    subject: str
    payload: dict[str, Any]
    status: str
    created_at: str
    finished_at: str | None


def get_edition(db: Database, week: str) -> EditionRow | None:
    """The frozen edition of ``week``, if there is one."""
    rows = list(db.query("SELECT * FROM editions WHERE week = ?", [week]))
    return _edition_row(rows[0]) if rows else None


def _edition_row(r: dict[str, Any]) -> EditionRow:
    return EditionRow(
        r["id"],
        r["week"],
        r["subject"],
        json.loads(r["payload"]),
        r["status"],
        r["created_at"],
        r["finished_at"],
    )


def freeze_edition(
    db: Database,
    week: str,
    payload: dict[str, Any],
    variants: Sequence[RenderedVariant],
    now: datetime,
    skip_empty: bool = True,
) -> int:
    """Store the edition, its variants and one pending delivery per active subscriber.

    With ``skip_empty``, subscribers whose variant has no articles are marked skipped;
    a deliberately quiet week (no articles at all, sent anyway) turns it off.

    One transaction: either the whole ledger exists or none of it. A second freeze of
    the same week fails on the unique week, which is what keeps two senders apart.
    """
    stamp = to_db_time(now)
    by_key = {v.key: v for v in variants}
    try:
        with db.atomic():
            edition_id = _insert(
                db,
                "editions",
                {
                    "week": week,
                    "subject": variants[0].subject if variants else "",
                    "payload": json.dumps(payload),
                    "status": "frozen",
                    "created_at": stamp,
                },
            )
            for v in variants:
                db.execute(
                    "INSERT INTO edition_variants VALUES (?, ?, ?, ?, ?, ?)",
                    [edition_id, v.key, v.subject, v.html, v.text, v.article_count],
                )
            # Only choices that were rendered: one who joined a moment ago with a new
            # choice waits for next week rather than getting a body nobody checked.
            marks = ",".join("?" * len(by_key))
            db.execute(
                "INSERT INTO deliveries (edition_id, subscriber_id, variant, status, "
                "updated_at) SELECT ?, id, topics, 'pending', ? FROM subscribers "
                f"WHERE status = 'active' AND topics IN ({marks}) ORDER BY id",
                [edition_id, stamp, *by_key],
            )
            if skip_empty:
                empty = [k for k, v in by_key.items() if v.article_count == 0]
                _mark_skipped(db, edition_id, empty, stamp)
    except sqlite3.IntegrityError as e:
        raise EditionError(
            f"Edition {week} was frozen by another run at the same moment; "
            "run `send` again to continue it."
        ) from e
    return edition_id


def _mark_skipped(db: Database, edition_id: int, keys: Sequence[str], stamp: str) -> None:
    for key in keys:
        db.execute(
            "UPDATE deliveries SET status = 'skipped', last_error = ?, updated_at = ? "
            "WHERE edition_id = ? AND variant = ?",
            ["nothing this week in the chosen topics", stamp, edition_id, key],
        )


def edition_variants(db: Database, edition_id: int) -> dict[str, RenderedVariant]:
    """The rendered variants of a frozen edition, by topic-choice key."""
    rows = db.query("SELECT * FROM edition_variants WHERE edition_id = ?", [edition_id])
    return {
        r["key"]: RenderedVariant(r["key"], r["subject"], r["html"], r["text"], r["article_count"])
        for r in rows
    }


def acquire_lock(
    db: Database,
    edition_id: int,
    shard: str,
    owner: str,
    now: datetime,
    expires: datetime,
    is_dead: Callable[[str], bool],
) -> str | None:
    """Take the send lock of an edition's shard; None when taken, else the holder.

    A lock whose lease ran out, or whose holder ``is_dead`` says is gone, is taken over
    by compare-and-swap on the old holder, so two takers cannot both win.
    """
    key = [edition_id, shard]
    inserted = db.execute(
        "INSERT OR IGNORE INTO edition_locks (edition_id, shard, owner, expires) "
        "VALUES (?, ?, ?, ?)",
        [*key, owner, to_db_time(expires)],
    )
    if inserted.rowcount == 1:
        return None
    rows = list(
        db.query("SELECT owner, expires FROM edition_locks WHERE edition_id = ? AND shard = ?", key)
    )
    if not rows:  # released in between: try once more
        return acquire_lock(db, edition_id, shard, owner, now, expires, is_dead)
    holder, lease = rows[0]["owner"], rows[0]["expires"]
    if holder != owner and lease >= to_db_time(now) and not is_dead(holder):
        return str(holder)
    taken = db.execute(
        "UPDATE edition_locks SET owner = ?, expires = ? "
        "WHERE edition_id = ? AND shard = ? AND owner = ?",
        [owner, to_db_time(expires), *key, holder],
    )
    return None if taken.rowcount == 1 else str(holder)


def renew_lock(db: Database, edition_id: int, shard: str, owner: str, expires: datetime) -> None:
    """Extend the lease of a lock this sender holds."""
    db.execute(
        "UPDATE edition_locks SET expires = ? WHERE edition_id = ? AND shard = ? AND owner = ?",
        [to_db_time(expires), edition_id, shard, owner],
    )


def release_lock(db: Database, edition_id: int, shard: str, owner: str) -> None:
    """Give the send lock back."""
    db.execute(
        "DELETE FROM edition_locks WHERE edition_id = ? AND shard = ? AND owner = ?",
        [edition_id, shard, owner],
    )


def mark_edition_sent(db: Database, edition_id: int, now: datetime) -> None:
    """Record that no delivery of the edition is left to attempt."""
    db.execute(
        "UPDATE editions SET status = 'sent', finished_at = ? WHERE id = ?",
        [to_db_time(now), edition_id],
    )


# ---------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class OpenDelivery:
    """A delivery still to be attempted, with its subscriber."""

    id: int
    variant: str
    attempts: int
    subscriber: Subscriber


def open_deliveries(
    db: Database, edition_id: int, shard: tuple[int, int] = (1, 1), batch_size: int = 1000
) -> Iterator[list[OpenDelivery]]:
    """Pending and deferred deliveries of one shard, in batches, by subscriber id.

    Shard ``(i, n)`` holds the subscribers whose id is ``i - 1`` modulo ``n``.
    """
    index, count = shard
    after = -1
    while True:
        rows = list(
            db.query(
                "SELECT d.id AS delivery_id, d.variant, d.attempts, s.* FROM deliveries d "
                "JOIN subscribers s ON s.id = d.subscriber_id "
                "WHERE d.edition_id = ? AND d.status IN ('pending', 'deferred') "
                "AND d.subscriber_id > ? AND d.subscriber_id % ? = ? "
                "ORDER BY d.subscriber_id LIMIT ?",
                [edition_id, after, count, index - 1, batch_size],
            )
        )
        if not rows:
            return
        after = rows[-1]["id"]
        yield [
            OpenDelivery(r["delivery_id"], r["variant"], r["attempts"], _subscriber(r))
            for r in rows
        ]


def open_delivery_count(db: Database, edition_id: int, shard: tuple[int, int] = (1, 1)) -> int:
    """How many deliveries of one shard are still to be attempted."""
    rows = db.query(
        "SELECT count(*) AS n FROM deliveries WHERE edition_id = ? "
        "AND status IN ('pending', 'deferred') AND subscriber_id % ? = ?",
        [edition_id, shard[1], shard[0] - 1],
    )
    return int(next(rows)["n"])


def record_delivery(db: Database, delivery_id: int, status: str, error: str, now: datetime) -> None:
    """Write one outcome and commit it: the ledger never lags the wire."""
    db.conn.execute(
        "UPDATE deliveries SET status = ?, last_error = ?, attempts = attempts + 1, "
        "updated_at = ? WHERE id = ?",
        (status, error, to_db_time(now), delivery_id),
    )
    db.conn.commit()


def record_deliveries(
    db: Database, outcomes: Sequence[tuple[int, str, str]], now: datetime
) -> None:
    """Write (delivery id, status, error) outcomes in one transaction."""
    stamp = to_db_time(now)
    with db.atomic():
        db.conn.executemany(
            "UPDATE deliveries SET status = ?, last_error = ?, attempts = attempts + 1, "
            "updated_at = ? WHERE id = ?",
            [(status, error, stamp, delivery_id) for delivery_id, status, error in outcomes],
        )


def bounce_subscribers(db: Database, subscriber_ids: Sequence[int], now: datetime) -> None:
    """Mark subscribers bounced: they are never sent to again."""
    for subscriber_id in subscriber_ids:
        change_subscriber(db, subscriber_id, now, "smtp", status="bounced")


def delivery_counts(db: Database, edition_id: int) -> dict[str, int]:
    """Deliveries of an edition by status."""
    rows = db.query(
        "SELECT status, count(*) AS n FROM deliveries WHERE edition_id = ? GROUP BY status",
        [edition_id],
    )
    return {r["status"]: r["n"] for r in rows}


def list_editions(db: Database) -> list[tuple[EditionRow, dict[str, int]]]:
    """Every edition, newest week first, with its delivery counts."""
    rows = [_edition_row(r) for r in db.query("SELECT * FROM editions ORDER BY week DESC")]
    return [(row, delivery_counts(db, row.id)) for row in rows]


# ---------------------------------------------------------------- feeds


@dataclass(frozen=True)
class FeedRow:
    """A configured feed and how its last fetch went."""

    url: str
    topic: str
    etag: str
    modified: str
    last_fetched: str | None
    last_status: str
    error_count: int
    last_error: str


def add_feed(db: Database, url: str, topic: str, now: datetime) -> str:
    """Add a feed (or change its topic); return added, updated or unchanged."""
    rows = list(db.query("SELECT topic FROM feeds WHERE url = ?", [url]))
    if not rows:
        _insert(db, "feeds", {"url": url, "topic": topic, "created_at": to_db_time(now)})
        return "added"
    if rows[0]["topic"] == topic:
        return "unchanged"
    db.execute("UPDATE feeds SET topic = ? WHERE url = ?", [topic, url])
    return "updated"


def remove_feed(db: Database, url: str) -> bool:
    """Forget a feed (its articles stay); False when it was not configured."""
    return db.execute("DELETE FROM feeds WHERE url = ?", [url]).rowcount > 0


def list_feeds(db: Database) -> list[FeedRow]:
    """Every configured feed, in the order they were added."""
    return [
        FeedRow(
            r["url"],
            r["topic"],
            r["etag"],
            r["modified"],
            r["last_fetched"],
            r["last_status"],
            r["error_count"],
            r["last_error"],
        )
        for r in db.query("SELECT * FROM feeds ORDER BY id")
    ]


def record_feed_fetch(
    db: Database, url: str, status: str, error: str, etag: str, modified: str, now: datetime
) -> None:
    """Keep the validators for the next conditional GET and count failures in a row."""
    db.execute(
        "UPDATE feeds SET last_fetched = ?, last_status = ?, last_error = ?, etag = ?, "
        "modified = ?, error_count = CASE WHEN ? = 'error' THEN error_count + 1 ELSE 0 END "
        "WHERE url = ?",
        [to_db_time(now), status, error, etag, modified, status, url],
    )


# ---------------------------------------------------------------- approvals


def request_approval(db: Database, week: str, now: datetime) -> bool:
    """Record that ``week`` waits for approval; False when it already did."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO approvals (week, requested_at) VALUES (?, ?)",
        [week, to_db_time(now)],
    )
    return cursor.rowcount == 1


def approval(db: Database, week: str) -> tuple[datetime, datetime | None] | None:
    """(requested at, approved at) for a held week, or None if it was never held."""
    rows = list(db.query("SELECT * FROM approvals WHERE week = ?", [week]))
    if not rows:
        return None
    approved = rows[0]["approved_at"]
    return from_db_time(rows[0]["requested_at"]), from_db_time(approved) if approved else None


def approve(db: Database, week: str, by: str, now: datetime) -> None:
    """Approve a held week (idempotent: the first approval stands)."""
    db.execute(
        "INSERT OR IGNORE INTO approvals (week, requested_at) VALUES (?, ?)",
        [week, to_db_time(now)],
    )
    db.execute(
        "UPDATE approvals SET approved_at = ?, approved_by = ? "
        "WHERE week = ? AND approved_at IS NULL",
        [to_db_time(now), by, week],
    )
