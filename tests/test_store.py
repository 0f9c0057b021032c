import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.errors import EditionError, StoreError
from digest.models import Article, RenderedVariant

from .conftest import NOW


def test_schema_is_migrated_once_and_uses_wal(tmp_path: Path) -> None:
    db = store.open_store(tmp_path / "d.db")
    db.close()
    db = store.open_store(tmp_path / "d.db")  # a second open applies nothing twice
    applied = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations")]
    assert applied == [
        "m001_initial",
        "m002_subscriber_events",
        "m003_feeds",
        "m004_approvals",
    ]
    assert next(db.query("PRAGMA journal_mode"))["journal_mode"] == "wal"
    assert {
        "articles",
        "topics",
        "article_topics",
        "subscribers",
        "editions",
        "edition_variants",
        "deliveries",
    } <= set(db.table_names())


def test_weekly_query_uses_its_index(db: Any) -> None:
    plan = " ".join(
        r["detail"]
        for r in db.query(
            "EXPLAIN QUERY PLAN SELECT * FROM articles WHERE status = 'published' "
            "AND published_at >= '2026' AND published_at < '2027'"
        )
    )
    assert "articles_status_published" in plan


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"Cannot open the store at .* Check \[store\] path"):
        store.open_store(blocker / "digest.db")


def test_upsert_reports_added_unchanged_updated(
    db: Any, make_article: Callable[..., Article]
) -> None:
    article = make_article(url="https://news.example.com/x", topics=("DNS", "Cybersecurity"))
    assert store.upsert_article(db, article, NOW) == "added"
    assert store.upsert_article(db, article, NOW) == "unchanged"
    changed = make_article(url="https://news.example.com/x", title="New title", topics=("DNS",))
    assert store.upsert_article(db, changed, NOW) == "updated"
    [row] = store.all_articles(db)
    assert (row.title, row.topics) == ("New title", ("DNS",))


def test_upsert_follows_a_guid_when_the_link_changes(
    db: Any, make_article: Callable[..., Article]
) -> None:
    store.upsert_article(db, make_article(url="https://a.example.com/1", guid="g-1"), NOW)
    moved = make_article(url="https://a.example.com/moved", guid="g-1")
    assert store.upsert_article(db, moved, NOW) == "updated"
    assert [a.url for a in store.all_articles(db)] == ["https://a.example.com/moved"]


def test_subscriber_email_is_unique_in_any_case(db: Any) -> None:
    assert store.add_subscriber(db, "Ann@Example.org", "Ann", [], NOW) == "added"
    assert store.add_subscriber(db, "ann@example.org", "Ann", [], NOW) == "unchanged"
    assert store.add_subscriber(db, "ANN@example.org", "Ann B", ["DNS"], NOW) == "updated"
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO subscribers (email, created_at, updated_at) "
            "VALUES ('aNN@EXAMPLE.org', '', '')"
        )
    assert store.get_subscriber(db, "ann@EXAMPLE.ORG").topics == ("dns",)  # type: ignore[union-attr]


def test_unsubscribed_are_not_reactivated_by_add(db: Any) -> None:
    store.add_subscriber(db, "gone@example.org", "", [], NOW)
    store.set_subscriber_status(db, "gone@example.org", "unsubscribed", NOW)
    assert store.add_subscriber(db, "gone@example.org", "", [], NOW) == "kept"
    assert store.get_subscriber(db, "gone@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def _variant(key: str, count: int = 1) -> RenderedVariant:
    return RenderedVariant(key, "Subject", "<p>x</p>", "x", count)


def test_freeze_writes_one_delivery_per_active_subscriber_and_is_unique(db: Any) -> None:
    for i, topics in enumerate([[], ["DNS"], [], ["New TLDs"]]):
        store.add_subscriber(db, f"s{i}@example.org", "", topics, NOW)
    store.set_subscriber_status(db, "s2@example.org", "bounced", NOW)
    variants = [_variant(""), _variant("dns"), _variant("new-tlds", count=0)]
    edition_id = store.freeze_edition(db, "2026-W47", {"week": "2026-W47"}, variants, NOW)
    assert store.delivery_counts(db, edition_id) == {"pending": 2, "skipped": 1}
    with pytest.raises(EditionError, match="frozen by another run"):
        store.freeze_edition(db, "2026-W47", {}, variants, NOW)
    assert len(list(db.query("SELECT * FROM editions"))) == 1


def test_lock_refuses_a_second_live_owner_and_yields_to_a_dead_or_expired_one(db: Any) -> None:
    from datetime import timedelta

    store.add_subscriber(db, "a@example.org", "", [], NOW)
    edition_id = store.freeze_edition(db, "2026-W47", {}, [_variant("")], NOW)
    later = NOW + timedelta(minutes=10)
    dead: set[str] = set()

    def take(owner: str, now: Any = NOW, shard: str = "1/1") -> str | None:
        return store.acquire_lock(db, edition_id, shard, owner, now, later, dead.__contains__)

    assert take("one") is None
    assert take("two") == "one"  # alive and within its lease
    assert take("two", shard="2/2") is None  # another shard is another lock
    assert take("three", now=later + timedelta(seconds=1)) is None  # lease ran out
    dead.add("three")
    assert take("four") is None  # its holder died
    store.release_lock(db, edition_id, "1/1", "four")
    assert take("five") is None


def test_open_deliveries_stream_in_batches(db: Any) -> None:
    for i in range(25):
        store.add_subscriber(db, f"s{i}@example.org", "", [], NOW)
    edition_id = store.freeze_edition(db, "2026-W47", {}, [_variant("")], NOW)
    batches = list(store.open_deliveries(db, edition_id, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    ids = [d.subscriber.id for b in batches for d in b]
    assert ids == sorted(ids) and len(set(ids)) == 25
