"""Approvals: requested once; the first approval stands."""

from datetime import timedelta
from typing import Any

from digest import store

from ..conftest import NOW


def test_an_approval_is_requested_once_and_the_first_approval_stands(db: Any) -> None:
    assert store.approval(db, "2026-W47") is None
    assert store.request_approval(db, "2026-W47", NOW)
    assert not store.request_approval(db, "2026-W47", NOW + timedelta(hours=1))
    assert store.approval(db, "2026-W47") == (NOW, None)
    store.approve(db, "2026-W47", "editor", NOW + timedelta(hours=2))
    store.approve(db, "2026-W47", "other", NOW + timedelta(hours=3))
    assert store.approval(db, "2026-W47") == (NOW, NOW + timedelta(hours=2))
