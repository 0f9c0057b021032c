"""The store opens, migrates once, runs in WAL mode, and says clearly when it cannot."""

from pathlib import Path

import pytest

from digest import store
from digest.errors import StoreError


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
        "m005_subscriber_ids_never_reused",
        "m006_event_details",
        "m007_signups",
        "m008_article_images",
        "m009_notes",
        "m010_outgoing",
        "m011_variant_slots",
        "m012_signup_mailbox",
        "m013_picks",
        "m014_provider_ids",
        "m015_webhook_events",
        "m016_suppressions",
        "m017_subscriber_mailbox",
        "m018_topic_keys_in_any_script",
        "m019_article_picture_index",
        "m020_deliveries_by_variant",
        "m021_lapsed_status",
        "m022_api_tokens",
        "m023_webhooks_out",
        "m024_subscriber_change_order",
        "m025_staff_and_audit",
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


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"Cannot open the store at .* Check \[store\] path"):
        store.open_store(blocker / "digest.db")


def test_a_forgotten_subscribers_id_is_never_given_to_someone_new(tmp_path: Path) -> None:
    from .. import conftest

    db = store.open_store(tmp_path / "d.db")
    first = store.insert_subscriber(db, "gone@example.org", "", [], conftest.NOW)
    assert store.delete_subscriber(db, "gone@example.org")
    db.close()
    db = store.open_store(tmp_path / "d.db")
    assert store.insert_subscriber(db, "new@example.org", "", [], conftest.NOW) > first


def test_the_id_migration_keeps_every_row_that_points_at_a_subscriber(tmp_path: Path) -> None:
    import sqlite3

    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    from .. import conftest

    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    before = Migrations("digest")  # the store as it was before m005
    before._migrations.extend(store.migrations._migrations[:4])
    before.apply(old)
    old.execute(
        "INSERT INTO subscribers (email, created_at, updated_at) VALUES ('a@example.org', '', '')"
    )
    old.execute(
        "INSERT INTO subscriber_events (subscriber_id, event, source, at) "
        "VALUES (1, 'active', 'cli', '')"
    )
    old.conn.commit()
    old.close()
    db = store.open_store(path)
    assert [e for e in store.subscriber_events(db, 1)] == [("active", "cli")]
    assert store.insert_subscriber(db, "b@example.org", "", [], conftest.NOW) == 2
