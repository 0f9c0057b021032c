"""The sunset: a reader who shows no sign of life is asked once, then lapses.

digest follows nobody, so it never counts opens; it counts what a reader does
(`store.SIGNS_OF_LIFE`: confirming, a resubscribe, a button of the preferences page, the
"keep sending" link). With `[sunset] after_editions` on, an active reader

    with a sign of life since the window began          -> nothing (alive)
    with fewer than max(after_editions, 3) editions
      delivered, or who joined within the window          -> nothing yet (too new)
    with none over their last after_editions editions   -> asked: one re-permission
                                                           email, a signed keep link
    asked, the email sent answer_days ago, no answer    -> lapsed: never mailed, not a
                                                           bounce

The window is the last ``after_editions`` editions delivered (sent) to that reader. A
lapsed reader comes back by their own keep link (within `keep_days`) or a fresh
confirmed sign-up. An ask whose email the relay has not taken yet is waited for; one
whose email failed for good is asked again. Nothing here runs with the setting off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config, require_real_secret
from digest.errors import ConfigError
from digest.models import Clock, DeliveryStatus, Subscriber, SubscriberStatus
from digest.readers.notices import queue_notice, send_queued, sunset_notice
from digest.store.outgoing import MAX_ATTEMPTS
from digest.tokens import keep_ask_id, sign_keep, sign_token, verify_keep

SOURCE = "sunset"
# A reader is judged on at least this many editions delivered, whatever the setting.
MIN_DELIVERED = 3
_EMAIL = re.compile(r"\bemail (\d+)\b")


@dataclass(frozen=True)
class SunsetEntry:
    """One reader the sunset names, and why."""

    email: str
    subscriber_id: int
    delivered: int  # editions delivered in their window
    why: str

    def as_dict(self) -> dict[str, Any]:
        """The entry for `--json`."""
        return {"email": self.email, "delivered": self.delivered, "why": self.why}


@dataclass
class SunsetReport:
    """Who the sunset asks, who lapses, who waits for their answer, who is too new to be
    judged; ``alive`` counts the readers with a sign of life in their window."""

    after_editions: int
    dry_run: bool = False
    ask: list[SunsetEntry] = field(default_factory=list)
    lapse: list[SunsetEntry] = field(default_factory=list)
    waiting: list[SunsetEntry] = field(default_factory=list)
    too_new: list[SunsetEntry] = field(default_factory=list)
    alive: int = 0
    notices: dict[str, Any] = field(default_factory=dict)  # the queue's pass, when sent
    problem: str = ""  # why the readers due were not asked (the lapses went ahead)

    @property
    def off(self) -> bool:
        """`[sunset] after_editions = 0`: nobody is judged."""
        return self.after_editions == 0

    def summary(self) -> str:
        """One line: what was (or would be) done."""
        if self.off:
            return "off ([sunset] after_editions = 0)"
        done = "would be" if self.dry_run else "were"
        return (
            f"{len(self.ask)} readers {done} asked whether they still want it, "
            f"{len(self.lapse)} {done} lapsed, {len(self.waiting)} asked and not answered "
            f"yet, {len(self.too_new)} too new to judge, {self.alive} with a sign of life"
        ) + (f"; {self.problem}" if self.problem else "")

    def as_dict(self) -> dict[str, Any]:
        """The report for `--json`."""
        return {
            "after_editions": self.after_editions,
            "dry_run": self.dry_run,
            "off": self.off,
            "ask": [e.as_dict() for e in self.ask],
            "lapse": [e.as_dict() for e in self.lapse],
            "waiting": [e.as_dict() for e in self.waiting],
            "too_new": [e.as_dict() for e in self.too_new],
            "alive": self.alive,
            "notices": self.notices,
            "problem": self.problem,
        }


def plan_sunset(db: Database, config: Config, now: datetime) -> SunsetReport:
    """What the sunset would do now, changing nothing."""
    return _plan(db, config, now)[0]


def _plan(
    db: Database, config: Config, now: datetime
) -> tuple[SunsetReport, dict[int, store.SunsetFacts]]:
    report = SunsetReport(config.sunset.after_editions, dry_run=True)
    judged: dict[int, store.SunsetFacts] = {}
    if report.off:
        return report, judged
    for facts in store.sunset_facts(db, _needed(config)):
        kind, entry = _classify(db, config, facts, now)
        if kind == "alive":
            report.alive += 1
        elif entry is not None:
            getattr(report, kind).append(entry)
            judged[facts.id] = facts
    return report, judged


def run_sunset(
    db: Database, config: Config, now: datetime, *, dry_run: bool = False
) -> SunsetReport:
    """`subscribers sunset` and the weekly run's step: ask the readers due, lapse those
    who never answered; ``dry_run`` says so and changes nothing. Each reader is checked
    again under the write lock as they are changed: one who clicked, left or was asked
    by another run meanwhile is left alone."""
    report, judged = _plan(db, config, now)
    report.dry_run = dry_run
    if dry_run or report.off:
        return report
    try:  # a keep link must verify where `digest serve` checks it
        require_real_secret(config, "The sunset's re-permission email (its keep link is signed)")
    except ConfigError as e:
        if report.ask:
            report.problem = f"{len(report.ask)} readers were not asked: {e}"
            report.ask = []
    for kind in ("ask", "lapse"):
        done = []
        for entry in getattr(report, kind):
            facts = judged[entry.subscriber_id]
            with store.transaction(db):
                if store.sunset_marks(db, entry.subscriber_id) != (
                    SubscriberStatus.ACTIVE,
                    facts.last_life,
                    facts.ask_id,
                ):
                    continue
                if kind == "ask":
                    _ask(db, config, entry, now)
                else:
                    store.change_subscriber(
                        db,
                        entry.subscriber_id,
                        now,
                        SOURCE,
                        status=SubscriberStatus.LAPSED,
                        detail=entry.why,
                    )
                done.append(entry)
        setattr(report, kind, done)
    return report


def sunset_and_send(
    db: Database, config: Config, clock: Clock, *, dry_run: bool = False
) -> SunsetReport:
    """`subscribers sunset`: `run_sunset`, then one pass over the queued emails, so the
    re-permission emails go out now (a relay that refuses them leaves them queued for the
    next run, said in ``notices``)."""
    report = run_sunset(db, config, clock(), dry_run=dry_run)
    if not dry_run and report.ask:
        report.notices = dict(send_queued(config, db, clock).__dict__)
    return report


def _needed(config: Config) -> int:
    return max(config.sunset.after_editions, MIN_DELIVERED)


def _classify(
    db: Database, config: Config, f: store.SunsetFacts, now: datetime
) -> tuple[str, SunsetEntry | None]:
    """(alive | too_new | ask | waiting | lapse, the entry) for one active reader."""
    needed = _needed(config)

    def entry(why: str) -> SunsetEntry:
        return SunsetEntry(f.email, f.id, f.delivered, why)

    if f.ask_id is not None and f.asked_at is not None and not _answered(f):
        return _asked(db, config, f, now, entry)
    start = f.window_start
    if f.last_life is not None and (start is None or f.last_life >= start):
        return "alive", None
    if start is None or f.delivered < needed or f.joined >= start:
        return "too_new", entry(
            f"{f.delivered} of {needed} editions delivered since joining on {f.joined:%Y-%m-%d}"
        )
    return "ask", entry(
        f"no sign of life over the last {needed} editions delivered (since {start:%Y-%m-%d})"
    )


def _answered(f: store.SunsetFacts) -> bool:
    return f.last_life is not None and f.asked_at is not None and f.last_life >= f.asked_at


def _asked(
    db: Database,
    config: Config,
    f: store.SunsetFacts,
    now: datetime,
    entry: Callable[[str], SunsetEntry],
) -> tuple[str, SunsetEntry | None]:
    """A reader asked and not answered: waiting, due to lapse, or to be asked again when
    the email never went out."""
    found = _EMAIL.search(f.ask_detail)
    state = store.email_state(db, int(found.group(1))) if found else None
    if state is None:
        return "ask", entry("the last re-permission email is gone from the queue")
    status, attempts, when = state
    if status == DeliveryStatus.FAILED or (
        status == DeliveryStatus.DEFERRED and attempts >= MAX_ATTEMPTS
    ):
        return "ask", entry(f"the re-permission email of {f.asked_at:%Y-%m-%d} never went out")
    if status != DeliveryStatus.SENT:
        return "waiting", entry(
            f"asked on {f.asked_at:%Y-%m-%d}; the email waits for the relay ({status})"
        )
    due = when + timedelta(days=config.sunset.answer_days)
    if now >= due:
        return "lapse", entry(
            f"no answer to the re-permission email sent {when:%Y-%m-%d} within "
            f"{config.sunset.answer_days} days"
        )
    return "waiting", entry(f"asked on {when:%Y-%m-%d}; lapses on {due:%Y-%m-%d} without an answer")


def _ask(db: Database, config: Config, entry: SunsetEntry, now: datetime) -> None:
    """The re-permission email, queued (`notices.send_queued` sends it), and its ask
    event: the keep link is signed for that event."""
    ask_id = store.add_event(db, entry.subscriber_id, store.SUNSET_ASKED, SOURCE, now)
    url = keep_url(config, entry.subscriber_id, ask_id, now)
    token = sign_token(config.secret, config.list_id, entry.subscriber_id)
    leave = f"{config.base_url}/unsubscribe/{token}"
    notice = sunset_notice(config, url, leave)
    queued = queue_notice(config, db, notice, entry.email, now, subscriber_id=entry.subscriber_id)
    store.set_event_detail(db, ask_id, f"email {queued}; {entry.why}")


def keep_url(config: Config, subscriber_id: int, ask_id: int, asked: datetime) -> str:
    """The re-permission email's "keep sending" link."""
    token = sign_keep(config.secret, config.list_id, subscriber_id, ask_id, int(asked.timestamp()))
    return f"{config.base_url}/keep/{token}"


# ---------------------------------------------------------------- the keep link


@dataclass(frozen=True)
class KeepLink:
    """What a keep link is: valid (with its reader), expired, left (the reader left the
    list since: an unsubscribe or bounce is not undone by an old link), or invalid."""

    state: str  # valid, expired, left, invalid
    subscriber: Subscriber | None = None
    kept: bool = False  # the POST made the reader active again (they had lapsed)


def check_keep(db: Database, config: Config, token: str, now: datetime) -> KeepLink:
    """What a keep link is, changing nothing (GET: mail scanners fetch every link)."""
    ask_id = keep_ask_id(token)
    ask = store.ask_of(db, ask_id) if ask_id else None
    if ask_id is None or ask is None:
        return KeepLink("invalid")
    subscriber_id, asked = ask
    if not verify_keep(
        config.secret, config.list_id, token, subscriber_id, ask_id, int(asked.timestamp())
    ):
        return KeepLink("invalid")
    subscriber = store.get_subscriber_by_id(db, subscriber_id)
    if subscriber is None:
        return KeepLink("invalid")
    if now >= asked + timedelta(days=config.sunset.keep_days):
        return KeepLink("expired", subscriber)
    if subscriber.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.LAPSED):
        return KeepLink("left", subscriber)
    return KeepLink("valid", subscriber)


def keep(db: Database, config: Config, token: str, now: datetime) -> KeepLink:
    """POST on the keep link: a sign of life; a lapsed reader is active again. Twice is
    harmless; an expired, forged or altered link changes nothing."""
    with store.transaction(db):
        found = check_keep(db, config, token, now)
        subscriber = found.subscriber
        if found.state != "valid" or subscriber is None:
            return found
        detail = f"ask {keep_ask_id(token)}"
        if subscriber.status == SubscriberStatus.LAPSED:
            store.change_subscriber(
                db,
                subscriber.id,
                now,
                "keep-link",
                status=SubscriberStatus.ACTIVE,
                event="kept",
                detail=detail,
            )
        else:
            store.add_event(db, subscriber.id, "kept", "keep-link", now, detail)
        current = store.get_subscriber_by_id(db, subscriber.id) or subscriber
    return KeepLink("valid", current, subscriber.status == SubscriberStatus.LAPSED)
