"""The weekly run and the approval workflow: import the feeds, decide whether this week
gets an edition, hold it for the editors when asked, release it on approval or delay.

The edition is built once per run and handed to the test copy and the send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.edition import build_edition, resolve_week
from digest.content.feeds import import_configured_feeds
from digest.content.weeks import last_complete_week
from digest.delivery.reputation import verdict_before
from digest.delivery.sending import send_edition, send_test
from digest.errors import DigestError, EditionError
from digest.hooks.sender import deliver as deliver_hooks
from digest.models import DELIVERY_STATUSES, Clock, DeliveryStatus, Edition, SendReport, Week
from digest.readers.notices import send_queued
from digest.readers.signup import purge_pending
from digest.readers.sunset import run_sunset
from digest.returns.process import process_configured_mail

log = logging.getLogger(__name__)


@dataclass
class RunStep:
    """One step of the weekly run: what it is, how it went, and what it did (or, in a
    dry run, would do)."""

    name: str
    status: str  # done, failed, skipped, would (a dry run)
    said: str

    def as_dict(self) -> dict[str, str]:
        """The step for `--json`."""
        return {"step": self.name, "status": self.status, "said": self.said}


@dataclass
class RunReport:
    """What one weekly run did, step by step, and the send's own report when it sent."""

    week: str
    dry_run: bool = False
    steps: list[RunStep] = field(default_factory=list)
    send: SendReport | None = None

    def step(self, name: str, status: str, said: str) -> None:
        """Record a step, and log it (the schedule's output)."""
        self.steps.append(RunStep(name, status, said))
        (log.error if status == "failed" else log.info)("%s: %s", name, said)

    @property
    def failed(self) -> list[RunStep]:
        """The steps that failed: the run exits non-zero when there is one."""
        return [s for s in self.steps if s.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        """The run for `--json`."""
        send = self.send
        return {
            "week": self.week,
            "dry_run": self.dry_run,
            "steps": [s.as_dict() for s in self.steps],
            "failed": [s.name for s in self.failed],
            "send": None
            if send is None
            else {"edition": send.edition_id, "already_sent": send.already_sent, **send.counts},
        }


def run_weekly(config: Config, clock: Clock, *, dry_run: bool = False) -> RunReport:
    """The scheduled run (`digest run` now, `digest schedule` at its time): import the
    feeds, read the return-path mailbox, ask readers with no sign of life and lapse those
    who never answered (`[sunset]`), send queued emails, remove stale sign-ups, then
    send last week's edition, then the webhooks out, each step reported; ``dry_run``
    changes nothing and says what each step would do.

    Skips a week already sent and one with fewer than ``min_articles``; with ``hold``,
    or when the reputation guard holds the week (the last edition's complaints or hard
    bounces in a provider group), sends the editors a test copy and waits for `digest
    approve` (or, for ``hold`` alone, the delay). One failed step (a dead feed, an
    unreadable mailbox) never stops the others.
    """
    db = store.open_store(config.store_path)
    week = last_complete_week(clock(), config.tz)
    report = RunReport(week.label, dry_run=dry_run)
    _import_feeds(db, config, clock, report)
    _process_returns(db, config, clock, report)
    _sunset(db, config, clock, report)
    _send_queued(db, config, clock, report)
    _purge_pending(db, config, clock, report)
    _edition(db, config, week, clock, report)
    _deliver_webhooks(db, config, clock, report)
    return report


def _deliver_webhooks(db: Database, config: Config, clock: Clock, report: RunReport) -> None:
    """Webhooks out last, so the edition's own events go with this run (no step
    without an enabled endpoint); a receiver that is down waits for its next attempt
    (its events kept), and one disabled now fails the step, so someone looks."""
    endpoints = store.endpoints(db, enabled_only=True)
    if not endpoints:
        return  # no step: nothing was asked for
    if report.dry_run:
        waiting = store.hook_events_waiting(db)
        report.step(
            "webhooks",
            "would",
            f"{waiting} events waiting would go out; enabled endpoints: {len(endpoints)}",
        )
        return
    try:
        sent = deliver_hooks(db, config, clock)
    except (DigestError, OSError) as e:
        report.step("webhooks", "failed", f"webhooks could not be sent: {e}")
        return
    report.step("webhooks", "failed" if sent.disabled else "done", sent.line())


def describe_run(week: Week, report: SendReport | None) -> str:
    """One line on what a send of the weekly run did."""
    if report is None:
        return f"{week.label}: nothing sent (no edition, or held for approval; see above)"
    if report.already_sent:
        return f"{report.week}: already sent earlier; nothing to do"
    counts = ", ".join(
        f"{report.count(s)} {s}" for s in DELIVERY_STATUSES if s != DeliveryStatus.PENDING
    )
    return f"{report.week}: {counts}"


def _process_returns(db: Database, config: Config, clock: Clock, report: RunReport) -> None:
    """Bounces and complaints first, so nobody who left is in the edition; a mailbox
    that cannot be read is reported and the edition goes on."""
    if config.bounce_maildir is None and not config.imap.host:
        report.step(
            "returns", "skipped", "no return-path mailbox configured ([bounces] maildir, [imap])"
        )
        return
    try:
        mails = process_configured_mail(db, config, clock(), dry_run=report.dry_run)
    except (DigestError, OSError) as e:
        report.step("returns", "failed", f"the return-path mailbox could not be read: {e}")
        return
    for mail in mails:
        report.step(
            "returns",
            "would" if report.dry_run else "done",
            f"{mail.count('bounced')} bounced, {mail.count('soft-bounce')} soft bounces, "
            f"{mail.count('complaint')} complaints, {mail.count('unsubscribed')} unsubscribed, "
            f"{mail.count('probe')} probes, "
            f"{sum(m.disposition == 'aside' for m in mail.messages)} set aside",
        )


def _sunset(db: Database, config: Config, clock: Clock, report: RunReport) -> None:
    """Readers with no sign of life asked whether they still want it, those who never
    answered lapsed (`readers.sunset`), after the returns and before the queued emails
    go out (the re-permission emails among them)."""
    if config.sunset.after_editions == 0:
        report.step("sunset", "skipped", "off ([sunset] after_editions = 0)")
        return
    try:
        done = run_sunset(db, config, clock(), dry_run=report.dry_run)
    except (DigestError, OSError) as e:
        report.step("sunset", "failed", f"the sunset could not run: {e}")
        return
    status = "failed" if done.problem else "would" if report.dry_run else "done"
    report.step("sunset", status, done.summary())


def _send_queued(db: Database, config: Config, clock: Clock, report: RunReport) -> None:
    """One-off emails still waiting (the server queues them; a relay may have been down):
    a relay that refuses them is reported, and the edition goes on."""
    if report.dry_run:
        waiting = len(store.queued_emails(db))
        report.step("queued emails", "would", f"{waiting} queued emails would be sent")
        return
    try:
        run = send_queued(config, db, clock)
    except (DigestError, OSError) as e:
        report.step("queued emails", "failed", f"queued emails could not be sent: {e}")
        return
    said = f"{run.sent} sent" + (f"; {run.problem}" if run.problem else "")
    report.step("queued emails", "failed" if run.problem else "done", said)


def _purge_pending(db: Database, config: Config, clock: Clock, report: RunReport) -> None:
    """Sign-ups never confirmed within `confirm_hours` go."""
    if report.dry_run:
        before = clock() - timedelta(hours=config.signup.confirm_hours)
        stale = len(store.expired_pending(db, before))
        report.step("sign-ups", "would", f"{stale} sign-ups never confirmed would be removed")
        return
    expired = purge_pending(db, config, clock())
    report.step("sign-ups", "done", f"{expired} sign-ups never confirmed were removed")


def _import_feeds(db: Database, config: Config, clock: Clock, report: RunReport) -> None:
    """This week's feeds, before the edition is built; one dead feed never stops it."""
    feeds = store.list_feeds(db)
    if not feeds:
        report.step("feeds", "skipped", "no feeds configured (`digest feeds add URL`)")
        return
    if report.dry_run:
        report.step("feeds", "would", f"{len(feeds)} feeds would be fetched and imported")
        return
    done = import_configured_feeds(db, config, clock())
    dead = [f for f in done if f.status == "error"]
    said = (
        f"{len(done)} feeds: {sum(f.added for f in done)} articles added, "
        f"{sum(f.updated for f in done)} updated"
    )
    if dead:
        said += "; " + "; ".join(f"{f.source} failed: {f.problem}" for f in dead)
    report.step("feeds", "failed" if dead else "done", said)


def _edition(db: Database, config: Config, week: Week, clock: Clock, report: RunReport) -> None:
    """Last week's edition: skipped when too small, held when asked, else sent."""
    edition = None
    if store.get_edition(db, week.label) is None:
        edition = build_edition(config, db, week)
        count = edition.article_count if edition else 0
        quiet_week = count == 0 and not config.schedule.skip_if_empty
        if count < config.schedule.min_articles and not quiet_week:
            report.step(
                "edition",
                "skipped",
                f"{week.label}: {count} articles, fewer than [schedule] min_articles = "
                f"{config.schedule.min_articles}; no edition",
            )
            return
        guard = reputation_hold(config, db, week)
        if guard:
            report.step("reputation", "done" if not report.dry_run else "would", guard)
        if (config.schedule.hold or guard) and not _released(
            config, db, week, clock, edition, report, guard
        ):
            return
    _send_step(config, db, week, clock, edition, report)


def reputation_hold(config: Config, db: Database, week: Week) -> str:
    """Why the reputation guard holds ``week`` for the editors (which group, edition,
    rule and rate), or "" when it does not: the weekly run's decision, whatever runs it."""
    verdict = verdict_before(config, db, week.label)
    return verdict.describe() if verdict.holds else ""


def _send_step(
    config: Config,
    db: Database,
    week: Week,
    clock: Clock,
    edition: Edition | None,
    report: RunReport,
) -> None:
    try:
        sent = _send(config, db, week, clock, edition, dry_run=report.dry_run)
    except DigestError as e:
        report.step("send", "failed", f"{week.label}: {e}")
        return
    report.send = sent
    if report.dry_run:
        said = (
            f"{week.label}: {sent.count(DeliveryStatus.PENDING)} would be sent, "
            f"{len(sent.skipped)} skipped"
            if sent and not sent.already_sent
            else describe_run(week, sent)
        )
        report.step("send", "would", said)
        return
    problem = sent.problem if sent else ""
    said = describe_run(week, sent) + (f"; {problem}" if problem else "")
    report.step("send", "failed" if problem else "done", said)


def _send(
    config: Config,
    db: Database,
    week: Week,
    clock: Clock,
    edition: Edition | None = None,
    *,
    dry_run: bool = False,
) -> SendReport | None:
    """The weekly run's send: the reputation guard held it already where it had to, so
    it is not refused again here (an approval is the editors' decision)."""
    allow_empty = not config.schedule.skip_if_empty
    return send_edition(
        config,
        db,
        week,
        clock,
        allow_empty=allow_empty,
        edition=edition,
        dry_run=dry_run,
        guard=False,
    )


def _released(
    config: Config,
    db: Database,
    week: Week,
    clock: Clock,
    edition: Edition | None = None,
    report: RunReport | None = None,
    guard: str = "",
) -> bool:
    """True once a held week is approved or its delay ran out; asks the editors first.
    A week the reputation guard holds (``guard`` says why) waits for `approve` only."""
    now = clock()
    state = store.approval(db, week.label)
    if report is not None and report.dry_run:
        if state is None or state[1] is None:
            who = ", ".join(config.schedule.editors) or "nobody"
            said = f"{week.label} would be held: a test copy to {who}, then `digest approve`"
            report.step("hold", "would", said)
            return False
        return True
    if store.request_approval(db, week.label, now):
        if guard:
            log.warning("%s is held by the reputation guard: %s", week.label, guard)
        editors = list(config.schedule.editors)
        tested = send_test(config, db, week, editors, clock, edition)
        sent = ", ".join(tested.sent) if tested else "nobody"
        log.warning(
            "%s is held: test copy sent to %s; run `digest approve` to send it", week.label, sent
        )
    state = store.approval(db, week.label)
    assert state is not None
    requested, approved = state
    delay = config.schedule.approve_after_hours
    timed_out = not guard and delay > 0 and now >= requested + timedelta(hours=delay)
    released = approved is not None or timed_out
    if report is not None and not released:
        report.step(
            "hold",
            "done",
            f"{week.label} is held for approval since {requested:%Y-%m-%d %H:%M} UTC: "
            "`digest approve` sends it",
        )
    return released


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
