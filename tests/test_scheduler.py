from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from digest import store
from digest.approval import run_weekly
from digest.scheduler import JOB_ID, build_scheduler, weekly_trigger

from .conftest import NOW, make_config, needs_testdata
from .fixtures import load_week


def test_trigger_fires_on_the_configured_local_time_across_dst(tmp_path: Path) -> None:
    config = make_config(tmp_path, schedule={"day": "mon", "time": "07:00"})
    trigger = weekly_trigger(config)
    before_dst_end = datetime(2026, 10, 28, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, before_dst_end)
    second = trigger.get_next_fire_time(first, first.replace(minute=1))
    assert first.isoformat() == "2026-11-02T07:00:00-08:00"  # after the change: PST
    assert second.isoformat() == "2026-11-09T07:00:00-08:00"
    assert trigger.get_next_fire_time(None, datetime(2026, 10, 20, tzinfo=UTC)).isoformat() == (
        "2026-10-26T07:00:00-07:00"
    )  # before it: PDT


def test_job_runs_one_at_a_time_and_coalesces_missed_runs(tmp_path: Path) -> None:
    config = make_config(tmp_path, schedule={"misfire_grace": 600})
    scheduler = build_scheduler(config, lambda: None, BackgroundScheduler)
    job = scheduler.get_job(JOB_ID)
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.misfire_grace_time == 600


def test_weekly_run_sends_last_week_then_skips_it(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    first = run_weekly(config, lambda: NOW).send
    assert first is not None and first.week == "2026-W47" and first.count("sent") == 6
    second = run_weekly(config, lambda: NOW).send
    assert second is not None and second.already_sent
    assert len(list((config.outbox_path / "2026-W47").glob("*.eml"))) == 6


def test_scheduler_job_really_fires(tmp_path: Path) -> None:
    import threading

    config = make_config(tmp_path)
    fired = threading.Event()
    scheduler = build_scheduler(config, fired.set, BackgroundScheduler)
    scheduler.start()
    try:
        scheduler.get_job(JOB_ID).modify(next_run_time=datetime.now(UTC))
        assert fired.wait(timeout=10)
    finally:
        scheduler.shutdown(wait=False)


@needs_testdata
def test_weekly_run_imports_the_feeds_first_and_survives_a_dead_one(tmp_path: Path) -> None:
    from .conftest import TESTDATA

    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    store.add_feed(db, str(TESTDATA / "feeds" / "rss-parser__heraldsun.rss"), "", NOW)
    store.add_feed(db, str(tmp_path / "missing.xml"), "", NOW)
    run = run_weekly(config, lambda: NOW)
    assert run.send is not None and run.send.count("sent") == 6
    assert [s.name for s in run.failed] == ["feeds"]  # said, and the run exits 1
    assert "missing.xml failed" in run.failed[0].said
    assert len(store.all_articles(db)) == 14  # the demo's 12 and the feed's 2
    feeds = {f.url.rsplit("/", 1)[1]: f for f in store.list_feeds(db)}
    assert (
        feeds["missing.xml"].error_count == 1
        and feeds["rss-parser__heraldsun.rss"].error_count == 0
    )


def test_min_articles_skips_a_thin_week(tmp_path: Path) -> None:
    config = make_config(tmp_path, schedule={"min_articles": 13})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)  # 12 articles
    run = run_weekly(config, lambda: NOW)
    assert run.send is None and run.steps[-1].status == "skipped"
    assert "fewer than [schedule] min_articles = 13" in run.steps[-1].said
    assert store.get_edition(db, "2026-W47") is None


def test_hold_sends_the_editors_a_test_copy_then_waits_for_approval(tmp_path: Path) -> None:
    from digest.approval import approve_week

    config = make_config(tmp_path, schedule={"hold": True, "editors": ["desk@example.com"]})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    assert run_weekly(config, lambda: NOW).send is None
    held = run_weekly(config, lambda: NOW)  # still waiting; no second test copy
    assert held.send is None and held.steps[-1].name == "hold" and not held.failed
    tests = list((config.outbox_path / "2026-W47" / "test").glob("*.eml"))
    assert [p.name for p in tests] == ["desk@example.com.eml"]
    assert store.get_edition(db, "2026-W47") is None
    _, report = approve_week(config, db, "2026-W47", "editor", lambda: NOW)
    assert report is not None and report.count("sent") == 6
    assert run_weekly(config, lambda: NOW).send.already_sent  # type: ignore[union-attr]


def test_hold_with_a_delay_sends_by_itself_when_it_runs_out(tmp_path: Path) -> None:
    from datetime import timedelta

    from digest.approval import release_held

    config = make_config(
        tmp_path,
        schedule={"hold": True, "editors": ["desk@example.com"], "approve_after_hours": 2},
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    assert run_weekly(config, lambda: NOW).send is None
    assert release_held(config, lambda: NOW + timedelta(hours=1)) is None
    report = release_held(config, lambda: NOW + timedelta(hours=2, minutes=1))
    assert report is not None and report.count("sent") == 6


def test_hold_without_editors_is_a_config_error(tmp_path: Path) -> None:
    import pytest

    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[schedule\] editors"):
        make_config(tmp_path, schedule={"hold": True})


def test_a_quiet_week_is_skipped_by_default_or_sent_as_a_short_note(tmp_path: Path) -> None:
    from datetime import timedelta

    later = NOW + timedelta(days=7)  # the demo's articles are in the week before NOW's
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    assert run_weekly(config, lambda: later).send is None  # skip_if_empty is on by default
    quiet = make_config(tmp_path, schedule={"skip_if_empty": False})
    report = run_weekly(quiet, lambda: later).send
    assert report is not None and report.week == "2026-W48" and report.count("sent") == 6
    mail = next((quiet.outbox_path / "2026-W48").glob("*.eml")).read_text()
    assert "Nothing new was published this week." in mail


def test_each_weekly_run_logs_what_it_did(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    config = make_config(tmp_path)
    load_week(config, store.open_store(config.store_path), NOW)
    with caplog.at_level(logging.INFO, logger="digest"):
        run_weekly(config, lambda: NOW)
        run_weekly(config, lambda: NOW)
    lines = [r.getMessage() for r in caplog.records if r.name == "digest.approval"]
    assert "send: 2026-W47: 6 sent, 0 deferred, 0 failed, 0 bounced, 0 skipped" in lines
    assert "send: 2026-W47: already sent earlier; nothing to do" in lines
