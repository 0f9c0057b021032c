"""Editions: one frozen edition per week with its ledger; lock rows swap only atomically."""

from typing import Any

import pytest

from digest import store
from digest.errors import EditionError
from digest.models import RenderedVariant

from ..conftest import NOW


def _variant(key: str, count: int = 1) -> RenderedVariant:
    return RenderedVariant(key, "Subject", "<p>x</p>", "x", count)


def test_freeze_writes_one_delivery_per_active_subscriber_and_is_unique(db: Any) -> None:
    for i, topics in enumerate([[], ["DNS"], [], ["New TLDs"]]):
        store.insert_subscriber(db, f"s{i}@example.org", "", topics, NOW)
    store.set_subscriber_status(db, "s2@example.org", "bounced", NOW)
    variants = [_variant(""), _variant("dns"), _variant("new-tlds", count=0)]
    skipped = {"new-tlds": "why: the plan says so"}  # the store inserts what it is told
    edition_id = store.freeze_edition(db, "2026-W47", {"week": "2026-W47"}, variants, NOW, skipped)
    assert store.delivery_counts(db, edition_id) == {"pending": 2, "skipped": 1}
    assert store.skipped_deliveries(db, edition_id) == [("s3@example.org", "why: the plan says so")]
    with pytest.raises(EditionError, match="frozen by another run"):
        store.freeze_edition(db, "2026-W47", {}, variants, NOW)
    assert len(list(db.query("SELECT * FROM editions"))) == 1


def test_lock_rows_are_inserted_once_and_swapped_only_from_the_holder(db: Any) -> None:
    from datetime import timedelta

    store.insert_subscriber(db, "a@example.org", "", [], NOW)
    edition_id = store.freeze_edition(db, "2026-W47", {}, [_variant("")], NOW)
    later = NOW + timedelta(minutes=10)
    assert store.insert_lock(db, edition_id, "1/1", "one", later)
    assert not store.insert_lock(db, edition_id, "1/1", "two", later)
    assert store.lock_holder(db, edition_id, "1/1") == ("one", later)
    assert not store.swap_lock_holder(db, edition_id, "1/1", "someone", "two", later)
    assert store.swap_lock_holder(db, edition_id, "1/1", "one", "two", later)
    store.release_lock(db, edition_id, "1/1", "one")  # not the holder: nothing happens
    assert store.lock_holder(db, edition_id, "1/1") == ("two", later)
    store.release_lock(db, edition_id, "1/1", "two")
    assert store.lock_holder(db, edition_id, "1/1") is None
