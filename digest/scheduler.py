"""The weekly schedule: an APScheduler CronTrigger from config running the send job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.edition import Clock, build_edition, send_edition, send_test
from digest.gather import last_complete_week
from digest.models import SendReport, Week

JOB_ID = "weekly-digest"
HOLD_JOB_ID = "release-held-edition"
log = logging.getLogger(__name__)


def weekly_trigger(config: Config) -> CronTrigger:
    """Fires on the configured weekday and time, in the newsletter's timezone."""
    hour, minute = (int(p) for p in config.schedule.time.split(":"))
    return CronTrigger(
        day_of_week=config.schedule.day.lower(), hour=hour, minute=minute, timezone=config.tz
    )


def build_scheduler(
    config: Config,
    job: Callable[[], object],
    scheduler_factory: Callable[..., BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """A scheduler with the weekly job: one run at a time, missed runs coalesced."""
    scheduler = scheduler_factory(timezone=config.tz)
    scheduler.add_job(
        job,
        weekly_trigger(config),
        id=JOB_ID,
        name="send last week's digest",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=config.schedule.misfire_grace,
        replace_existing=True,
    )
    return scheduler


def add_hold_check(scheduler: BaseScheduler, config: Config, job: Callable[[], object]) -> None:
    """With hold and a delay, check every 15 minutes whether a held edition may go."""
    if config.schedule.hold and config.schedule.approve_after_hours > 0:
        scheduler.add_job(
            job,
            "interval",
            minutes=15,
            id=HOLD_JOB_ID,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )


def run_weekly(config: Config, clock: Clock) -> SendReport | None:
    """The scheduled job: import the feeds, then send last week's edition.

    Skips a week already sent and one with fewer than ``min_articles``; with ``hold``,
    sends the editors a test copy and waits for `digest approve` (or the delay).
    """
    from digest.feeds import import_configured_feeds

    db = store.open_store(config.store_path)
    for report in import_configured_feeds(db, config, clock()):
        if report.status == "error":  # one dead feed never stops the edition
            log.warning("feed %s: %s", report.source, report.problem)
    week = last_complete_week(clock(), config.tz)
    if store.get_edition(db, week.label) is None:
        edition = build_edition(config, db, week)
        count = edition.article_count if edition else 0
        quiet_week = count == 0 and not config.schedule.skip_if_empty
        if count < config.schedule.min_articles and not quiet_week:
            log.warning(
                "%s: %d articles, fewer than min_articles = %d; no edition",
                week.label,
                count,
                config.schedule.min_articles,
            )
            return None
        if config.schedule.hold and not _released(config, db, week, clock):
            return None
    return send_edition(config, db, week, clock, allow_empty=not config.schedule.skip_if_empty)


def _released(config: Config, db: Database, week: Week, clock: Clock) -> bool:
    """True once a held week is approved or its delay ran out; asks the editors first."""
    now = clock()
    if store.request_approval(db, week.label, now):
        report = send_test(config, db, week, list(config.schedule.editors), clock)
        sent = ", ".join(report.sent) if report else "nobody"
        log.warning(
            "%s is held: test copy sent to %s; run `digest approve` to send it", week.label, sent
        )
    state = store.approval(db, week.label)
    assert state is not None
    requested, approved = state
    delay = config.schedule.approve_after_hours
    return approved is not None or (delay > 0 and now >= requested + timedelta(hours=delay))


def release_held(config: Config, clock: Clock) -> SendReport | None:
    """Send last week's held edition if it is approved or its delay ran out."""
    db = store.open_store(config.store_path)
    week = last_complete_week(clock(), config.tz)
    state = store.approval(db, week.label)
    if state is None or store.get_edition(db, week.label) is not None:
        return None
    if not _released(config, db, week, clock):
        return None
    return send_edition(config, db, week, clock, allow_empty=not config.schedule.skip_if_empty)


def approve_week(config: Config, week_label: str, by: str, clock: Clock) -> SendReport | None:
    """`digest approve`: approve a held week and send it now."""
    from digest.gather import week_window

    db = store.open_store(config.store_path)
    store.approve(db, week_label, by, clock())
    window = week_window(week_label, config.tz)
    return send_edition(config, db, window, clock, allow_empty=not config.schedule.skip_if_empty)
