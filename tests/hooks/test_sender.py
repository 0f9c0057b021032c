"""Webhooks out, proved with the reference library (standardwebhooks' Webhook.verify):
every change's event written in its transaction, delivered in order at least once,
retried on the specification's schedule, 410 and exhaustion disable, private targets
refused, two signatures during a rotation."""

import itertools
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks.webhooks as reference
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from digest import store
from digest.config import Config
from digest.hooks.endpoints import add_endpoint, rotate_endpoint
from digest.hooks.sender import RETRY_DELAYS, deliver, send_test
from digest.readers.subscribers import add_subscriber, remove_subscriber

from ..conftest import NOW, make_config
from .receiver import Receiver, receiver

ALL = (
    "subscriber.confirmed,subscriber.unsubscribed,subscriber.bounced,subscriber.complained,"
    "subscriber.forgotten,edition.frozen,edition.held,edition.approved,edition.sent"
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def library_clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """The reference library checks the timestamp against its own clock: hand it ours."""

    class Fixed(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "Fixed":
            return cls.fromtimestamp(at.timestamp(), tz)

    monkeypatch.setattr(reference, "datetime", Fixed)


@pytest.fixture
def local(tmp_path: Path) -> Config:
    return make_config(tmp_path, webhooks={"allow_private_targets": True})


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _secret(config: Config, url: str, events: str = ALL) -> str:
    db = store.open_store(config.store_path)
    made = add_endpoint(db, config, url, [events], NOW)
    db.close()
    return made.secret


def _deliver(config: Config, clock: Clock, **kw: Any) -> Any:
    db = store.open_store(config.store_path)
    try:
        return deliver(db, config, clock, rng=random.Random(7), **kw)
    finally:
        db.close()


def _reader_changes(config: Config) -> None:
    db = store.open_store(config.store_path)
    for name in ("a", "b", "c", "d"):
        add_subscriber(db, config, f"{name}@example.org", "", "", NOW)
    store.change_subscriber(db, 1, NOW, "one-click", status="unsubscribed")
    store.change_subscriber(db, 2, NOW, "dsn", status="bounced")
    store.change_subscriber(db, 3, NOW, "arf", status="unsubscribed", event="complaint")
    store.change_subscriber(db, 1, NOW, "cli", status="active")
    remove_subscriber(db, config, "d@example.org", NOW, forget=True)
    store.freeze_edition(db, "2026-W47", {"week": "2026-W47", "sections": []}, [], NOW)
    store.mark_edition_sent(db, 1, NOW)
    db.close()


def test_every_event_verifies_with_the_reference_library_and_a_replay_is_refused(
    local: Config, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _secret(local, hook.url)
    _reader_changes(local)
    report = _deliver(local, Clock())
    assert report.delivered == 7 and report.failed == 0
    library_clock(monkeypatch, NOW + timedelta(seconds=30))
    verifier = Webhook(secret)
    payloads = [verifier.verify(r.body, r.headers) for r in hook.got]
    assert [p["type"] for p in payloads] == [
        "subscriber.unsubscribed",
        "subscriber.bounced",
        "subscriber.complained",
        "subscriber.confirmed",
        "subscriber.forgotten",
        "edition.frozen",
        "edition.sent",
    ]
    assert payloads[0]["data"]["email"] == "a@example.org"
    assert payloads[4]["data"] == {"subscriber_id": 4}  # forgotten: no address
    assert all(set(p) == {"type", "timestamp", "data"} for p in payloads)
    assert len({r.headers["webhook-id"] for r in hook.got}) == 7
    for r in hook.got:  # a reader's token (unsubscribe, preferences) is never in one
        assert b"/unsubscribe/" not in r.body and b"token" not in r.body
    library_clock(monkeypatch, NOW + timedelta(minutes=6))  # past the 5-minute window
    with pytest.raises(WebhookVerificationError):
        verifier.verify(hook.got[0].body, hook.got[0].headers)
    tampered = hook.got[0].body.replace(b"a@example.org", b"z@example.org")
    library_clock(monkeypatch, NOW)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, hook.got[0].headers)


def test_the_event_is_in_the_changes_own_transaction(local: Config, hook: Receiver) -> None:
    _secret(local, hook.url)
    db = store.open_store(local.store_path)
    add_subscriber(db, local, "a@example.org", "", "", NOW)
    with pytest.raises(RuntimeError), store.transaction(db):
        store.change_subscriber(db, 1, NOW, "cli", status="unsubscribed")
        raise RuntimeError("the change is rolled back")
    assert store.hook_events_waiting(db) == 0
    assert store.get_subscriber(db, "a@example.org").status == "active"  # type: ignore[union-attr]
    store.change_subscriber(db, 1, NOW, "cli", status="unsubscribed")
    assert store.hook_events_waiting(db) == 1
    db.close()


def test_without_an_endpoint_nothing_piles_up(local: Config) -> None:
    _reader_changes(local)
    db = store.open_store(local.store_path)
    assert db.execute("SELECT count(*) FROM hook_events").fetchone()[0] == 0
    db.close()


def test_only_the_endpoints_event_types_go_to_it(local: Config, hook: Receiver) -> None:
    _secret(local, hook.url, "edition.sent")
    _reader_changes(local)
    _deliver(local, Clock())
    assert [json.loads(r.body)["type"] for r in hook.got] == ["edition.sent"]


def test_a_receiver_down_for_a_day_gets_everything_in_order_under_the_same_ids(
    local: Config, hook: Receiver
) -> None:
    _secret(local, hook.url)
    _reader_changes(local)
    down_until = NOW + timedelta(days=1)
    clock = Clock()
    hook.answer = lambda _: 503 if clock.now < down_until else 200
    db = store.open_store(local.store_path)
    while clock.now < NOW + timedelta(days=2):
        _deliver(local, clock)
        (endpoint,) = store.endpoints(db)
        if not endpoint.next_attempt_at:
            break
        clock.now = store.from_db_time(endpoint.next_attempt_at) + timedelta(seconds=1)
    db.close()
    first = hook.got[0].headers["webhook-id"]
    retried = [r for r in hook.got if r.headers["webhook-id"] == first]
    assert len(retried) == 8  # at 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h; then 14 h: up
    assert {r.body for r in retried} == {hook.got[0].body}  # the same bytes every time
    stamps = [int(r.headers["webhook-timestamp"]) for r in retried]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    for gap, delay in zip(gaps[:6], RETRY_DELAYS, strict=False):
        assert delay.total_seconds() <= gap <= delay.total_seconds() * 1.1 + 2
    assert stamps[-1] - stamps[0] > 24 * 3600
    delivered = [json.loads(r.body)["type"] for r in hook.got if r.headers["webhook-id"] != first]
    assert delivered == [
        "subscriber.bounced",
        "subscriber.complained",
        "subscriber.confirmed",
        "subscriber.forgotten",
        "edition.frozen",
        "edition.sent",
    ]
    db = store.open_store(local.store_path)
    (endpoint,) = store.endpoints(db)
    db.close()
    assert endpoint.enabled and endpoint.delivered == 7 and endpoint.attempts == 0


def test_a_410_disables_the_endpoint_and_keeps_its_events(local: Config, hook: Receiver) -> None:
    _secret(local, hook.url)
    _reader_changes(local)
    hook.answer = lambda _: 410
    report = _deliver(local, Clock())
    assert report.disabled == [f"{hook.url}: 410 Gone"]
    assert len(hook.got) == 1
    db = store.open_store(local.store_path)
    (endpoint,) = store.endpoints(db)
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert store.hook_events_waiting(db) == 0  # nothing enabled waits, yet nothing dropped
    assert db.execute("SELECT count(*) FROM hook_events").fetchone()[0] == 7
    db.close()


def test_after_the_whole_schedule_the_endpoint_is_disabled(local: Config, hook: Receiver) -> None:
    _secret(local, hook.url)
    _reader_changes(local)
    hook.answer = lambda _: 500
    clock = Clock()
    report = _deliver(local, clock)
    for delay in RETRY_DELAYS:
        clock.now += delay * 1.1 + timedelta(seconds=1)
        report = _deliver(local, clock)
    assert len(hook.got) == 10 and len(report.disabled) == 1
    assert "failing for 76 hours" in report.disabled[0]
    assert clock.now - NOW > timedelta(days=3)


def test_a_private_target_is_refused_unless_allowed(tmp_path: Path, hook: Receiver) -> None:
    config = make_config(tmp_path)
    _secret(config, hook.url)
    _reader_changes(config)
    report = _deliver(config, Clock())
    assert hook.got == [] and report.failed == 1
    assert (
        "loopback" in report.problems[0]
        and "[webhooks] allow_private_targets" in report.problems[0]
    )


def test_a_rotation_signs_with_both_secrets_for_a_day(
    local: Config, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _secret(local, hook.url)
    db = store.open_store(local.store_path)
    new = rotate_endpoint(db, 1, NOW).secret
    msg_id, problem = send_test(db, local, 1, NOW)
    later_id, _ = send_test(db, local, 1, NOW + timedelta(hours=25))
    db.close()
    assert problem == ""
    first, later = hook.got
    assert first.headers["webhook-id"] == msg_id and later.headers["webhook-id"] == later_id
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    library_clock(monkeypatch, NOW)
    assert Webhook(old).verify(first.body, first.headers)["type"] == "webhook.test"
    assert Webhook(new).verify(first.body, first.headers)["type"] == "webhook.test"
    library_clock(monkeypatch, NOW + timedelta(hours=25))
    assert Webhook(new).verify(later.body, later.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(later.body, later.headers)


def test_one_sender_at_a_time_holds_an_endpoint_and_a_dead_ones_lease_runs_out(
    local: Config, hook: Receiver
) -> None:
    _secret(local, hook.url)
    _reader_changes(local)
    db = store.open_store(local.store_path)
    assert store.take_lease(db, 1, "a killed sender", NOW, NOW + timedelta(seconds=60))
    db.commit()
    db.close()
    clock = Clock()
    held = _deliver(local, clock)
    assert held.busy == 1 and hook.got == []  # serve and a run at once: one sends
    clock.now += timedelta(seconds=61)
    after = _deliver(local, clock)
    assert after.delivered == 7 and after.busy == 0
