"""The weekly schedule: an APScheduler CronTrigger from config running the send job."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.config import Config

JOB_ID = "weekly-digest"
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
