"""The weekly schedule: APScheduler wiring only (trigger, jobs, next run); what a run
does is `approval.run_weekly`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.approval import release_held, run_weekly
from digest.config import Config
from digest.errors import DigestError
from digest.models import Clock

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


def weekly_scheduler(
    load_config: Callable[[], Config],
    clock: Clock,
    scheduler_factory: Callable[..., BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """The scheduler `digest schedule` runs: the weekly run, and the hold check when set.

    Each run reads the config afresh, so edits apply from the next run on; a failed
    run is logged and the schedule goes on.
    """

    def weekly() -> None:
        try:
            run_weekly(load_config(), clock)
        except DigestError as e:
            log.error("weekly run failed: %s", e)

    def hold_check() -> None:
        try:
            release_held(load_config(), clock)
        except DigestError as e:
            log.error("releasing the held edition failed: %s", e)

    config = load_config()
    scheduler = build_scheduler(config, weekly, scheduler_factory)
    add_hold_check(scheduler, config, hold_check)
    return scheduler


def next_run(scheduler: BaseScheduler, now: datetime) -> datetime | None:
    """When the weekly job fires next."""
    job = scheduler.get_job(JOB_ID)
    return job.trigger.get_next_fire_time(None, now) if job else None
