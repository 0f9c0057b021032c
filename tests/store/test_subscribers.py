"""Subscribers: one row per address in any case, status changes logged as events."""

import sqlite3
from typing import Any

import pytest

from digest import store

from ..conftest import NOW


def test_subscriber_email_is_unique_in_any_case(db: Any) -> None:
    subscriber_id = store.insert_subscriber(db, "Ann@Example.org", "Ann", ["DNS"], NOW)
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_subscriber(db, "aNN@EXAMPLE.org", "", [], NOW)
    found = store.get_subscriber(db, "ann@EXAMPLE.ORG")
    assert found is not None and (found.id, found.topics) == (subscriber_id, ("dns",))


def test_a_change_is_logged_with_its_source_and_a_no_change_is_not(db: Any) -> None:
    subscriber_id = store.insert_subscriber(db, "a@example.org", "", [], NOW)
    assert store.change_subscriber(db, subscriber_id, NOW, "one-click", status="unsubscribed")
    assert not store.change_subscriber(db, subscriber_id, NOW, "mailto", status="unsubscribed")
    assert store.change_subscriber(db, subscriber_id, NOW, "preferences", topics=["DNS"])
    assert store.subscriber_events(db, subscriber_id) == [
        ("unsubscribed", "one-click"),
        ("topics", "preferences"),
    ]


def test_active_topic_choices_are_the_distinct_keys_of_active_subscribers(db: Any) -> None:
    store.insert_subscriber(db, "a@example.org", "", ["DNS", "Cybersecurity"], NOW)
    store.insert_subscriber(db, "b@example.org", "", ["cybersecurity", "dns"], NOW)
    gone = store.insert_subscriber(db, "c@example.org", "", ["New TLDs"], NOW)
    store.change_subscriber(db, gone, NOW, "cli", status="unsubscribed")
    assert store.active_topic_choices(db) == ["cybersecurity,dns"]
