"""The weekly run and the approval workflow: import the feeds, decide whether this week
gets an edition, hold it for the editors when asked, release it on approval or delay.

The edition is built once per run and handed to the test copy and the send.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.edition import build_edition, resolve_week
from digest.content.feeds import import_configured_feeds
from digest.content.weeks import last_complete_week
from digest.delivery.reputation import verdict_before
from digest.delivery.sending import send_edition, send_test
from digest.errors import DigestError, EditionError
from digest.models import DELIVERY_STATUSES, Clock, DeliveryStatus, Edition, SendReport, Week
from digest.readers.notices import send_queued
from digest.readers.signup import purge_pending
from digest.returns.process import process_configured_mail

log = logging.getLogger(__name__)


def run_weekly(config: Config, clock: Clock) -> SendReport | None:
    """The scheduled job: import the feeds, then send last week's edition; logs what it
    did (the week and its counts, or why it sent nothing).

    Skips a week already sent and one with fewer than ``min_articles``; with ``hold``,
    or when the reputation guard holds the week (the last edition's complaints or hard
    bounces in a provider group), sends the editors a test copy and waits for `digest
    approve` (or, for ``hold`` alone, the delay).
    """
    report = _run_weekly(config, clock)
    log.info("%s", describe_run(last_complete_week(clock(), config.tz), report))
    return report


def describe_run(week: Week, report: SendReport | None) -> str:
    """One line on what a weekly run did, for the schedule's log."""
    if report is None:
        return f"{week.label}: nothing sent (no edition, or held for approval; see above)"
    if report.already_sent:
        return f"{report.week}: already sent earlier; nothing to do"
    counts = ", ".join(
        f"{report.count(s)} {s}" for s in DELIVERY_STATUSES if s != DeliveryStatus.PENDING
    )
    return f"{report.week}: {counts}"


def _run_weekly(config: Config, clock: Clock) -> SendReport | None:
    db = store.open_store(config.store_path)
    for report in import_configured_feeds(db, config, clock()):
        if report.status == "error":  # one dead feed never stops the edition
            log.warning("feed %s: %s", report.source, report.problem)
    _process_returns(db, config, clock)
    _send_queued(db, config, clock)
    expired = purge_pending(db, config, clock())
    if expired:
        log.info("%d sign-ups never confirmed were removed", expired)
    week = last_complete_week(clock(), config.tz)
    edition = None
    if store.get_edition(db, week.label) is None:
        edition = build_edition(config, db, week)
        count = edition.article_count if edition else 0
        quiet_week = count == 0 and not config.schedule.skip_if_empty
        if count < config.schedule.min_articles and not quiet_week:
            log.info(
                "%s: %d articles, fewer than min_articles = %d; no edition",
                week.label,
                count,
                config.schedule.min_articles,
            )
            return None
        guard = reputation_hold(config, db, week)
        if (config.schedule.hold or guard) and not _released(
            config, db, week, clock, edition, guard
        ):
            return None
    return _send(config, db, week, clock, edition)


def reputation_hold(config: Config, db: Database, week: Week) -> str:
    """Why the reputation guard holds ``week`` for the editors (which group, edition,
    rule and rate), or "" when it does not: the weekly run's decision, whatever runs it."""
    verdict = verdict_before(config, db, week.label)
    return verdict.describe() if verdict.holds else ""


def _process_returns(db: Database, config: Config, clock: Clock) -> None:
    """Bounces and complaints first, so nobody who left is in the edition; a mailbox
    that cannot be read is logged and the edition goes on."""
    try:
        for mail in process_configured_mail(db, config, clock()):
            log.info(
                "return path: %d bounced, %d soft bounces, %d complaints, %d unsubscribed, "
                "%d probes, %d set aside",
                mail.count("bounced"),
                mail.count("soft-bounce"),
                mail.count("complaint"),
                mail.count("unsubscribed"),
                mail.count("probe"),
                sum(m.disposition == "aside" for m in mail.messages),
            )
    except (DigestError, OSError) as e:
        log.error("the return-path mailbox could not be processed: %s", e)


def _send_queued(db: Database, config: Config, clock: Clock) -> None:
    """One-off emails still waiting (the server queues them; a relay may have been down):
    a relay that refuses them is logged, and the edition goes on."""
    try:
        run = send_queued(config, db, clock)
    except (DigestError, OSError) as e:
        log.error("queued emails could not be sent: %s", e)
        return
    if run.sent or run.problem:
        log.info("queued emails: %d sent%s", run.sent, f"; {run.problem}" if run.problem else "")


def _send(
    config: Config, db: Database, week: Week, clock: Clock, edition: Edition | None = None
) -> SendReport | None:
    """The weekly run's send: the reputation guard held it already where it had to, so
    it is not refused again here (an approval is the editors' decision)."""
    allow_empty = not config.schedule.skip_if_empty
    return send_edition(
        config, db, week, clock, allow_empty=allow_empty, edition=edition, guard=False
    )


def _released(
    config: Config,
    db: Database,
    week: Week,
    clock: Clock,
    edition: Edition | None = None,
    guard: str = "",
) -> bool:
    """True once a held week is approved or its delay ran out; asks the editors first.
    A week the reputation guard holds (``guard`` says why) waits for `approve` only."""
    now = clock()
    if store.request_approval(db, week.label, now):
        if guard:
            log.warning("%s is held by the reputation guard: %s", week.label, guard)
        editors = list(config.schedule.editors)
        report = send_test(config, db, week, editors, clock, edition)
        sent = ", ".join(report.sent) if report else "nobody"
        log.warning(
            "%s is held: test copy sent to %s; run `digest approve` to send it", week.label, sent
        )
    state = store.approval(db, week.label)
    assert state is not None
    requested, approved = state
    delay = config.schedule.approve_after_hours
    if approved is not None:
        return True
    return not guard and delay > 0 and now >= requested + timedelta(hours=delay)


def release_held(config: Config, clock: Clock) -> SendReport | None:
    """Send last week's held edition if it is approved or its delay ran out."""
    db = store.open_store(config.store_path)
    week = last_complete_week(clock(), config.tz)
    state = store.approval(db, week.label)
    if state is None or store.get_edition(db, week.label) is not None:
        return None
    if not _released(config, db, week, clock, guard=reputation_hold(config, db, week)):
        return None
    return _send(config, db, week, clock)


def approve_week(
    config: Config, db: Database, week_label: str | None, by: str, clock: Clock
) -> tuple[str, SendReport | None]:
    """`digest approve`: approve a held week and send it now; (week, send report)."""
    week = resolve_week(config, week_label, clock())
    if store.approval(db, week.label) is None:
        raise EditionError(
            f"{week.label} was never held for approval: there is nothing to approve. "
            "Send it with `digest send` (or set [schedule] hold to hold editions)."
        )
    store.approve(db, week.label, by, clock())
    return week.label, _send(config, db, week, clock)
