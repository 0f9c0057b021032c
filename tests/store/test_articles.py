"""Articles: upsert by URL then GUID, topics, the weekly query's index."""

from collections.abc import Callable
from typing import Any

from digest import store
from digest.models import Article
from digest.store import articles

from ..conftest import NOW


def test_weekly_query_uses_its_index(db: Any) -> None:
    plan = " ".join(
        r["detail"]
        for r in db.query(
            "EXPLAIN QUERY PLAN SELECT * FROM articles WHERE status = 'published' "
            "AND published_at >= '2026' AND published_at < '2027'"
        )
    )
    assert "articles_status_published" in plan


def _plan(db: Any, sql: str, params: list[Any]) -> str:
    return " ".join(r["detail"] for r in db.query(f"EXPLAIN QUERY PLAN {sql}", params))


def test_an_imports_lookups_use_an_index_for_a_bound_parameter(db: Any) -> None:
    # A scan here makes every feed import pay for the whole store, once per item.
    guid = _plan(db, articles.GUID_LOOKUP, ["g-1"])
    assert "articles_guid" in guid and "SCAN" not in guid
    pictures = _plan(db, articles.PICTURE_SIZES.format(marks="?,?"), ["a", "b"])
    assert "articles_sized_pictures" in pictures and "SCAN" not in pictures


def test_an_empty_guid_never_matches_another_article(
    db: Any, make_article: Callable[..., Article]
) -> None:
    store.upsert_article(db, make_article(url="https://a.example.com/1", guid=""), NOW)
    assert store.upsert_article(db, make_article(url="https://a.example.com/2"), NOW) == "added"
    assert len(store.all_articles(db)) == 2


def test_stored_picture_sizes_are_found_by_address(
    db: Any, make_article: Callable[..., Article]
) -> None:
    sized = make_article(
        url="https://a.example.com/1",
        image_url="https://img.example.com/a.jpg",
        image_width=640,
        image_height=480,
    )
    unsized = make_article(url="https://a.example.com/2", image_url="https://img.example.com/b.jpg")
    for a in (sized, unsized):
        store.upsert_article(db, a, NOW)
    found = store.picture_sizes(
        db, ["https://img.example.com/a.jpg", "https://img.example.com/b.jpg"]
    )
    assert found == {"https://img.example.com/a.jpg": (640, 480)}


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


def test_published_articles_are_the_half_open_window_oldest_first(
    db: Any, make_article: Callable[..., Article]
) -> None:
    from datetime import timedelta

    start = NOW - timedelta(days=7)
    inside = make_article(url="https://a.example.com/in", published_at=start, score=1.0)
    featured = make_article(
        url="https://a.example.com/f", published_at=NOW - timedelta(days=1), featured=True
    )
    at_end = make_article(url="https://a.example.com/end", published_at=NOW)
    for a in (inside, featured, at_end):
        store.upsert_article(db, a, NOW)
    found = store.published_articles(db, start, NOW)
    # The window is [start, end); the ranking is the content stage's, not the store's.
    assert [a.url for a in found] == ["https://a.example.com/in", "https://a.example.com/f"]


def test_topic_keys_are_distinct_in_any_script_and_stable() -> None:
    from digest.models import slugify

    names = ["Domain Names", "سياسة", "اقتصاد", "経済", "政治", "Политика", "हिंदी समाचार"]
    keys = [slugify(n) for n in names]
    assert len(set(keys)) == len(names) and all(keys)
    assert keys[0] == "domain-names" and slugify("Économie") == "economie"  # as always
    assert slugify("🏀") != slugify("⚽") and slugify("🏀").startswith("t-")  # no letters
    assert slugify(" ") == "" and all(slugify(k) == k for k in keys)  # a key is its key


def test_the_migration_gives_every_topic_its_own_key_and_readers_follow(
    tmp_path: Any, make_article: Callable[..., Article]
) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    db = store.open_store(path)
    for i, topics in enumerate([("DNS",), ("Straße",), ("سياسة",), ("اقتصاد",)]):
        store.upsert_article(db, make_article(url=f"https://a.example/{i}", topics=topics), NOW)
    store.insert_subscriber(db, "a@example.org", "", ["Straße", "DNS"], NOW)
    db.close()
    with sqlite3.connect(path) as conn:  # the store as the ASCII-only keys left it
        conn.execute("UPDATE topics SET slug = 'strae' WHERE name = 'Straße'")
        conn.execute("UPDATE topics SET slug = '' WHERE name = 'سياسة'")
        arabic = conn.execute("SELECT id FROM topics WHERE name = 'اقتصاد'").fetchone()[0]
        politics = conn.execute("SELECT id FROM topics WHERE name = 'سياسة'").fetchone()[0]
        conn.execute(
            "UPDATE article_topics SET topic_id = ? WHERE topic_id = ?", [politics, arabic]
        )
        conn.execute("DELETE FROM topics WHERE id = ?", [arabic])
        conn.execute("UPDATE subscribers SET topics = 'dns,strae'")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm018_topic_keys_in_any_script'")
    db = store.open_store(path)
    assert dict(store.all_topics(db)) == {"dns": "DNS", "straße": "Straße", "سياسة": "سياسة"}
    assert store.get_subscriber(db, "a@example.org").topics == ("dns", "straße")  # type: ignore[union-attr]
    # The article filed under the one empty key is imported again as changed, under its own.
    again = make_article(url="https://a.example/3", topics=("اقتصاد",))
    assert store.upsert_article(db, again, NOW) == "updated"
    assert "اقتصاد" in dict(store.all_topics(db))
