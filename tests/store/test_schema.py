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
