"""Sending an edition: freeze, deliver, test copies, resume, and the checks a
send must pass first (postal address, signing key).

    build (edition) -> freeze (edition, variants, ledger) -> archive -> deliver (delivery)
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.addresses import normalize_email
from digest.config import DEVELOPMENT_SECRET, Config, require_real_secret
from digest.content.archive import is_published, publish_edition
from digest.content.copies import (
    cut_warning,
    left_out_warning,
    reader_key,
    render_within_budget,
    variants_for_subscribers,
)
from digest.content.edition import build_edition, edition_for_week, resolve_week
from digest.content.frozen import edition_from_payload, edition_payload
from digest.content.sections import topic_choices
from digest.delivery.ledger import Progress, deliver_edition
from digest.delivery.reputation import check_reputation, edition_groups, verdict_before
from digest.delivery.workers import run_workers
from digest.errors import ConfigError, DeliveryError, EditionError, RowError
from digest.mail.dkimsign import sign_message
from digest.mail.message import build_message, prepare_variant
from digest.mail.pool import Job, Outcome
from digest.mail.transports import Shard, send_messages
from digest.models import (
    DELIVERY_STATUSES,
    NOTHING_IN_TOPICS,
    OPEN_STATUSES,
    Clock,
    DeliveryStatus,
    Edition,
    RenderedVariant,
    SendReport,
    Subscriber,
    SubscriberStatus,
    Week,
)
from digest.resources import PLACEHOLDER

log = logging.getLogger(__name__)


def signing_config(config: Config) -> Config:
    """The config with a signing key: DIGEST_SECRET, or the development key for the outbox.

    Refuses (ConfigError) without a postal address, and over SMTP without DIGEST_SECRET.
    """
    if not config.newsletter.postal_address.strip():
        raise ConfigError(
            f"[newsletter] postal_address is empty in {config.path}. Bulk mail must carry the "
            "sender's postal address (CAN-SPAM, CASL); set it before sending or previewing."
        )
    if config.smtp.host:  # real readers get these links
        require_real_secret(config, "Sending over SMTP (unsubscribe links are signed)")
    if config.secret:
        return config
    return replace(config, secret=DEVELOPMENT_SECRET)


def check_ready_to_send(config: Config) -> None:
    """ConfigError naming every value `init` left as a placeholder."""
    problem = unready(config)
    if problem:
        raise ConfigError(problem)


def unready(config: Config) -> str:
    """Why `send` would refuse this configuration (values `init` left as placeholders),
    or "" when it would not."""
    n = config.newsletter
    values = {
        "name": n.name,
        "from": n.sender,
        "base_url": n.base_url,
        "postal_address": n.postal_address,
    }
    left = [k for k, v in values.items() if PLACEHOLDER in v or "change-me.example" in v]
    if not left:
        return ""
    return (
        f"[newsletter] {', '.join(left)} in {config.path} still hold the CHANGE-ME "
        "values `digest init` wrote; fill in your own before sending."
    )


def check_week_is_over(week: Week, now: datetime) -> None:
    """EditionError for a week still running: what is published later would be missed."""
    if week.end > now:
        raise EditionError(
            f"{week.label} is not over until {week.end:%Y-%m-%d %H:%M %Z}: articles "
            "published after now would be left out. Send it then, or pass --force to "
            "send it now."
        )


# ---------------------------------------------------------------- send


@dataclass(frozen=True)
class SendPlan:
    """Who gets which copy of a week's edition and who is skipped and why, computed once:
    the dry run reports it, the freeze stores it."""

    edition: Edition
    # One per topic choice of the active readers, without their bodies: those wait in
    # the store's stage (`store.staged_variants`) for the freeze, never all in memory.
    variants: tuple[RenderedVariant, ...]
    skipped: dict[str, str]  # topic choice -> why its readers get nothing this week

    def warnings(self, config: Config) -> list[str]:
        """What the editor is told: articles left out of a copy to fit the budget, and
        copies whose limits leave stories of the week to the web version."""
        said = [left_out_warning(config, v) for v in self.variants if v.left_out]
        cut = cut_warning(list(self.variants), dict(topic_choices(config)))
        return [*said, cut] if cut else said


def plan_send(config: Config, db: Database, edition: Edition) -> SendPlan:
    """Render each topic choice of the active readers (within the size budget); a choice
    whose copy has no article is skipped, unless the whole week is a deliberate quiet
    one (no articles at all, sent anyway)."""
    variants = tuple(_staged(db, variants_for_subscribers(config, db, edition)))
    quiet = edition.article_count == 0
    skipped = {
        v.key: f"{NOTHING_IN_TOPICS} ({v.key.replace(',', ', ')})"
        for v in variants
        if v.article_count == 0 and not quiet
    }
    return SendPlan(edition, variants, skipped)


def _staged(db: Database, variants: Iterable[RenderedVariant]) -> Iterator[RenderedVariant]:
    """Each variant as it is rendered into the store's stage; what the plan keeps is
    without its bodies."""
    store.open_variant_stage(db)
    for v in variants:
        store.stage_variant(db, v)
        light = replace(v, html="", text="")
        del v  # not held while the next is rendered
        yield light


def send_edition(
    config: Config,
    db: Database,
    week: Week,
    clock: Clock,
    *,
    dry_run: bool = False,
    shard: Shard = (1, 1),
    progress: Progress | None = None,
    allow_empty: bool = False,
    edition: Edition | None = None,
    force: bool = False,
    workers: int = 1,
    guard: bool = True,
) -> SendReport | None:
    """Plan, freeze (if not frozen yet) and deliver the week's edition: every open
    delivery, by ``workers`` sender processes over shards (one process for one shard).

    Returns None when the week has no articles (no edition is made) unless
    ``allow_empty``, which sends a short quiet-week edition instead. A week whose
    deliveries are all final sends nothing and reports ``already_sent``. ``edition``
    is the week's edition when the caller built it already (it is not built twice).
    A week that is not over yet is refused unless ``force``, and so is a new edition
    when the last one reached a refuse rate of the reputation guard (ReputationError)
    unless ``force`` or not ``guard`` (the weekly run holds instead, and an approval is
    the editors' decision). ``dry_run`` reports the plan, and the guard's verdict among
    its warnings, and stores nothing.
    """
    config = signing_config(config)  # one config from here on: the one that signs
    _check_shard(shard)
    frozen = store.get_edition(db, week.label)
    if dry_run:
        report = _dry_run(config, db, week, frozen, edition)
        verdict = verdict_before(config, db, week.label)
        if report is not None and frozen is None and verdict.holds:
            report.warnings.append(f"the reputation guard: {verdict.describe()}")
        if report is not None and frozen is None:
            report.warnings.extend(lapsed_warning(db))
        return report
    check_ready_to_send(config)
    warnings: list[str] = []
    if frozen is None:
        if not force:
            check_week_is_over(week, clock())
            if guard:
                check_reputation(config, db, week.label)
        plan = _plan_week(config, db, week, edition, allow_empty)
        if plan is None:
            return None
        edition_id = _freeze(db, week.label, plan, clock())
        store.close_variant_stage(db)
        warnings = plan.warnings(config) + lapsed_warning(db)
        publish_edition(config, db, plan.edition, clock())  # before the first link is clicked
    else:
        edition_id = frozen.id
        if not is_published(config, week.label):  # the freeze's attempt failed: again
            publish_edition(config, db, edition_from_payload(config, frozen.payload), clock())
    processes = workers if shard == (1, 1) else 1
    return _deliver(config, db, week, edition_id, clock, shard, processes, progress, warnings)


def lapsed_warning(db: Database) -> list[str]:
    """What the editor is told of the lapsed readers an edition leaves out (`sunset`)."""
    lapsed = store.count_with_status(db, SubscriberStatus.LAPSED)
    if not lapsed:
        return []
    return [
        f"{lapsed} lapsed readers are not mailed: no sign of life and no answer to the "
        "re-permission email (`[sunset]`); their keep link or a new sign-up brings them "
        "back (`digest subscribers list --status lapsed` names them)"
    ]


def choose_week(
    config: Config, db: Database, label: str | None, resume: bool, now: datetime
) -> Week:
    """The week `send` works on: the one named, else with ``resume`` the newest edition
    still open, else the most recent complete week."""
    if resume and not label:
        label = week_to_resume(db)
    return resolve_week(config, label, now)


def _check_shard(shard: Shard) -> None:
    index, count = shard
    if not 1 <= index <= count:
        raise EditionError(f"--shard {index}/{count}: expected i/n with 1 <= i <= n, like 1/2.")


def _plan_week(
    config: Config, db: Database, week: Week, edition: Edition | None, allow_empty: bool
) -> SendPlan | None:
    edition = edition or build_edition(config, db, week)
    if edition is None and allow_empty:
        edition = Edition(week=week, sections=())
    return plan_send(config, db, edition) if edition is not None else None


def _dry_run(
    config: Config,
    db: Database,
    week: Week,
    frozen: store.EditionRow | None,
    edition: Edition | None,
) -> SendReport | None:
    """What a send would do: the plan of a week not frozen yet, else the ledger's state."""
    if frozen is not None:
        counts = store.delivery_counts(db, frozen.id)
        if _open_count(counts) == 0:
            return SendReport(week.label, frozen.id, counts, already_sent=True)
        return SendReport(
            week.label, frozen.id, counts, skipped=store.skipped_deliveries(db, frozen.id)
        )
    plan = _plan_week(config, db, week, edition, allow_empty=False)
    store.close_variant_stage(db)
    if plan is None:
        return None
    by_choice = store.active_choice_counts(db)
    skipped = [
        (email, plan.skipped[key])
        for email, key in store.active_with_choices(db, list(plan.skipped))
    ]
    pending = sum(n for key, n in by_choice.items() if key not in plan.skipped)
    counts = {DeliveryStatus.PENDING: pending, DeliveryStatus.SKIPPED: len(skipped)}
    warnings = plan.warnings(config)
    return SendReport(week.label, 0, counts, dry_run=True, warnings=warnings, skipped=skipped)


def _deliver(
    config: Config,
    db: Database,
    week: Week,
    edition_id: int,
    clock: Clock,
    shard: Shard,
    processes: int,
    progress: Progress | None,
    warnings: list[str],
) -> SendReport:
    counts = store.delivery_counts(db, edition_id)
    if _open_count(counts) == 0:
        return SendReport(week.label, edition_id, counts, already_sent=True, warnings=warnings)
    try:
        if processes > 1:
            problems = run_workers(config, week.label, edition_id, processes, progress)
            if problems:
                raise DeliveryError("; ".join(problems))
        else:
            deliver_edition(config, db, week.label, edition_id, clock, shard, progress)
    except DeliveryError as e:
        left = left_to_deliver(db, edition_id)
        _report_stop(db, week.label, edition_id, f"{e}", clock())
        raise DeliveryError(f"{e} {left}") from e
    counts = store.delivery_counts(db, edition_id)
    if _open_count(counts) == 0:
        with store.writes(f"finishing {week.label}"):
            store.mark_edition_sent(db, edition_id, clock())
    undelivered = store.undelivered_reasons(db, edition_id) if _open_count(counts) else []
    return SendReport(week.label, edition_id, counts, warnings=warnings, undelivered=undelivered)


def _report_stop(db: Database, week: str, edition_id: int, why: str, now: datetime) -> None:
    """The `delivery.stopped` webhook event (its own transaction: a stop changes no
    row); a store that cannot take it leaves the send's own error to be said."""
    counts = store.delivery_counts(db, edition_id)
    data = {
        "edition_id": edition_id,
        "week": week,
        "reason": why[:500],
        "left": _open_count(counts),
    }
    try:
        with store.transaction(db):
            store.record_hook_event(db, "delivery.stopped", data, now)
    except sqlite3.Error as e:
        log.warning("the delivery.stopped webhook event could not be written: %s", e)


def left_to_deliver(db: Database, edition_id: int) -> str:
    """What a stopped send left: how many, why, and how to go on."""
    counts = store.delivery_counts(db, edition_id)
    total = sum(counts.values())
    parts = [f"{counts[s]} {_OPEN_WORDS[s]}" for s in OPEN_STATUSES if counts.get(s)]
    return (
        f"{_open_count(counts)} of {total} messages are not delivered yet "
        f"({', '.join(parts) or 'none'}); fix that, then run `digest send --resume`."
    )


_OPEN_WORDS = {
    DeliveryStatus.PENDING: "not attempted",
    DeliveryStatus.DEFERRED: "deferred",
    DeliveryStatus.FAILED: "failed",
}


def _freeze(db: Database, week: str, plan: SendPlan, now: datetime) -> int:
    """Freeze the plan, or join the edition another sender (another shard) froze a
    moment ago."""
    try:
        with store.writes(f"freezing {week}"):
            payload = edition_payload(plan.edition)
            keys = [v.key for v in plan.variants]
            staged = store.staged_variants(db, keys)
            return store.freeze_edition(db, week, payload, staged, now, plan.skipped)
    except EditionError:
        frozen = store.get_edition(db, week)
        if frozen is None:
            raise
        return frozen.id


def _open_count(counts: dict[str, int]) -> int:
    return sum(counts.get(s, 0) for s in OPEN_STATUSES)


def week_to_resume(db: Database) -> str:
    """`send --resume`: the newest edition with deliveries still open (pending, deferred,
    or failed by the relay)."""
    for row, counts in store.list_editions(db):
        if _open_count(counts):
            return row.week
    raise EditionError("Nothing to resume: every edition is finished.")


def edition_status(db: Database) -> list[dict[str, Any]]:
    """`status`: every edition, newest first, with its delivery counts by status and the
    bounces and complaints that came back for it later."""
    returns = store.return_counts_by_edition(db)
    return [
        {
            "week": row.week,
            "edition": row.id,
            "subject": row.subject,
            "status": row.status,
            "created_at": row.created_at,
            "finished_at": row.finished_at,
            **{s: counts.get(s, 0) for s in DELIVERY_STATUSES},
            "returned": {
                "hard_bounces": returns.get(row.id, {}).get("bounced", 0),
                "soft_bounces": returns.get(row.id, {}).get("soft-bounce", 0),
                "complaints": returns.get(row.id, {}).get("complaint", 0),
            },
            "groups": {g: c.as_dict() for g, c in edition_groups(db, row.id).items()},
        }
        for row, counts in store.list_editions(db)
    ]


# ---------------------------------------------------------------- test send


@dataclass
class TestSendReport:
    """Who got a test copy, and who did not and why."""

    week: str
    sent: list[str]
    failed: list[tuple[str, str]]
    outbox: Path | None = None  # where the copies were written, with no relay configured


def test_addresses(addresses: Sequence[str]) -> list[str]:
    """The addresses normalised; RowError names the first that is not one."""
    try:
        return [normalize_email(a) for a in addresses if a.strip()]
    except RowError as e:
        raise RowError(f"--test: {e.value!r} is not a valid address: {e.reason}", e.value) from e


def send_test(
    config: Config,
    db: Database,
    week: Week,
    addresses: Sequence[str],
    clock: Clock,
    edition: Edition | None = None,
) -> TestSendReport | None:
    """Send the edition as it stands to ``addresses`` only (RowError names one that is
    not an address), subject prefixed [TEST].

    Nothing is frozen and the ledger is not touched: a later real send is unaffected.
    A test address that is a subscriber gets their own topic variant.
    """
    config = signing_config(config)  # one config from here on: the one that signs
    check_ready_to_send(config)
    recipients = test_addresses(addresses)
    edition = edition or edition_for_week(config, db, week)
    if edition is None:
        return None
    jobs = _test_jobs(config, db, edition, recipients, clock())
    outbox = None if config.smtp.host else config.outbox_path / week.label / "test"
    report = TestSendReport(week.label, [], [], outbox)

    def on_result(job: Job, outcome: Outcome) -> None:
        if outcome.status == DeliveryStatus.SENT:
            report.sent.append(job.recipient)
        else:
            report.failed.append((job.recipient, outcome.error or outcome.status))

    send_messages(config, jobs, on_result, outbox=config.outbox_path / week.label / "test")
    return report


def _test_jobs(
    config: Config, db: Database, edition: Edition, addresses: list[str], now: datetime
) -> list[Job]:
    label = edition.week.label
    tag = f"test-{int(now.timestamp())}-"
    prepared: dict[str, Any] = {}
    jobs = []
    for number, address in enumerate(addresses, start=1):
        reader = store.get_subscriber(db, address) or Subscriber(id=0, email=address)
        key = reader_key(reader)
        if key not in prepared:
            variant = render_within_budget(config, edition, key)
            prepared[key] = prepare_variant(config, variant, label, now, "[TEST] ", tag)
        data = sign_message(config, build_message(config, prepared[key], reader))
        jobs.append(
            Job(-number, reader.id, address, data, ready=True)  # built by build_message
        )
    return jobs
