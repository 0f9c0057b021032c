"""Feeds: added once, their validators and errors in a row kept."""

from typing import Any

from digest import store

from ..conftest import NOW


def test_feeds_are_added_updated_listed_and_removed(db: Any) -> None:
    url = "https://news.example.com/feed.xml"
    assert store.add_feed(db, url, "DNS", NOW) == "added"
    assert store.add_feed(db, url, "DNS", NOW) == "unchanged"
    assert store.add_feed(db, url, "Cybersecurity", NOW) == "updated"
    store.record_feed_fetch(db, url, "error", "timed out", "", "", NOW)
    store.record_feed_fetch(db, url, "error", "timed out", "", "", NOW)
    [feed] = store.list_feeds(db)
    assert (feed.topic, feed.error_count, feed.last_error) == ("Cybersecurity", 2, "timed out")
    store.record_feed_fetch(db, url, "ok", "", '"v1"', "", NOW)
    [feed] = store.list_feeds(db)
    assert (feed.error_count, feed.etag) == (0, '"v1"')
    assert store.remove_feed(db, url) and not store.remove_feed(db, url)
