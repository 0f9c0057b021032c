"""The sender runs where the work is: as the weekly run's last step (the edition's own
events included, whatever the transport: here the outbox), and beside `serve`'s pages."""

import json
import threading
from pathlib import Path

from digest import store
from digest.approval import run_weekly
from digest.hooks.endpoints import add_endpoint
from digest.web.app import create_app

from ..conftest import NOW, make_config, running
from ..fixtures import load_week
from .receiver import receiver


def test_the_weekly_run_reports_its_edition_to_the_endpoints_last(tmp_path: Path) -> None:
    config = make_config(tmp_path, webhooks={"allow_private_targets": True})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    quiet = run_weekly(config, lambda: NOW, dry_run=True)
    assert [s.name for s in quiet.steps if s.name == "webhooks"] == []  # none asked for
    with receiver() as hook:
        add_endpoint(db, config, hook.url, ["edition.frozen,edition.sent"], NOW)
        dry = run_weekly(config, lambda: NOW, dry_run=True)
        assert dry.steps[-1].said == "0 events waiting would go out; enabled endpoints: 1"
        run = run_weekly(config, lambda: NOW)
        (step,) = [s for s in run.steps if s.name == "webhooks"]
        assert step.status == "done" and step.said.startswith("2 delivered")
        assert run.steps[-1] is step
        assert [json.loads(r.body)["type"] for r in hook.got] == ["edition.frozen", "edition.sent"]
        assert json.loads(hook.got[0].body)["data"]["week"] == "2026-W47"
    db.close()


def test_serve_delivers_webhooks_beside_its_pages(tmp_path: Path) -> None:
    config = make_config(tmp_path, webhooks={"allow_private_targets": True})
    arrived = threading.Event()
    with receiver() as hook:

        def answer(_: object) -> int:
            arrived.set()
            return 200

        hook.answer = answer
        db = store.open_store(config.store_path)
        add_endpoint(db, config, hook.url, ["subscriber.unsubscribed"], NOW)
        store.insert_subscriber(db, "a@example.org", "", [], NOW)
        store.change_subscriber(db, 1, NOW, "cli", status="unsubscribed")
        db.close()
        with running(create_app(config, clock=lambda: NOW)):
            assert arrived.wait(timeout=30), "serve's sender delivered nothing"
        assert json.loads(hook.got[0].body)["type"] == "subscriber.unsubscribed"
