"""The ledger: open deliveries stream in batches by subscriber; outcomes are committed."""

from typing import Any

from digest import store
from digest.models import RenderedVariant

from ..conftest import NOW


def _freeze(db: Any, count: int) -> int:
    for i in range(count):
        store.insert_subscriber(db, f"s{i}@example.org", "", [], NOW)
    variant = RenderedVariant("", "Subject", "<p>x</p>", "x", 1)
    return store.freeze_edition(db, "2026-W47", {}, [variant], NOW)


def test_open_deliveries_stream_in_batches(db: Any) -> None:
    edition_id = _freeze(db, 25)
    batches = list(store.open_deliveries(db, edition_id, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    ids = [d.subscriber.id for b in batches for d in b]
    assert ids == sorted(ids) and len(set(ids)) == 25


def test_recorded_outcomes_leave_the_open_set_and_shards_split_it(db: Any) -> None:
    edition_id = _freeze(db, 6)
    first = next(store.open_deliveries(db, edition_id))
    store.record_delivery(db, first[0].id, "sent", "", NOW)
    store.record_deliveries(db, [(first[1].id, "bounced", "550"), (first[2].id, "sent", "")], NOW)
    assert store.delivery_counts(db, edition_id) == {"pending": 3, "sent": 2, "bounced": 1}
    assert store.open_delivery_count(db, edition_id) == 3
    halves = [store.open_delivery_count(db, edition_id, (i, 2)) for i in (1, 2)]
    assert sum(halves) == 3
