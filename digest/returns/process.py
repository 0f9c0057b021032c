"""`digest process-mail`: what came back to the return path, applied to the list, but only
on proof.

Anyone can send mail to a return path, so a returned message changes a reader only when
it proves it answers a message digest sent that reader:

- ``verp``: it came back to the signed envelope sender of that message (VERP, on
  whenever `[smtp] return_path` is set), naming the subscriber and the edition or probe;
- ``headers``: it quotes a signed reference of digest's own: the Message-ID (signed, with
  the week or probe it was), or the unsubscribe token of List-Unsubscribe.

An edition reference holds only when that edition's delivery to that subscriber was
sent; a probe reference only when that probe was sent to that subscriber. Then:

    hard bounce            -> bounced
    soft bounce            -> counted; from `[bounces] soft_limit` editions -> bounced
    complaint (ARF, SES)   -> unsubscribed, event "complaint"
    unsubscribe request    -> unsubscribed (its subject carries the reader's token)

Without proof, nothing changes by itself:

    hard bounce naming an active reader -> a probe: a short email from its own signed
        return path (at most once per `[bounces] probe_days`); if the probe bounces,
        that bounce proves the address is gone (Mailman 3 confirms bounces this way)
    "unsubscribe" with no token from a reader's address -> an email with the reader's
        own one-click link (at most once a day); the mail itself is not obeyed
    anything else (soft bounces, complaints, reports) -> reported, no change

Each message is then marked done, left unread (mail that is no return: a person
writing), or set aside (one that cannot be read); `dry_run` computes and reports the
same plan and changes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config, require_real_secret
from digest.errors import ConfigError
from digest.models import SOFT_LIMIT_DETAIL, DeliveryStatus, Subscriber, SubscriberStatus
from digest.readers.notices import leave_check_notice, probe_notice, queue_notice, send_queued
from digest.readers.unsubscribe import subscriber_for_token, unsubscribe
from digest.returns.bounces import Failure, Returned, classify
from digest.returns.mailboxes import ImapBox, Mailbox, MaildirBox
from digest.tokens import (
    Sent,
    find_tokens,
    parse_message_id,
    parse_verp,
    sign_message_id,
    sign_token,
    verp_address,
)

# The kinds `process-mail --json` reports: a DMARC or other ARF report is a "complaint"
# that changes nobody, a DSN that says "delivered" is "other".
REPORTED_KIND = {"report": "complaint", "delivered": "other", "unreadable": "other"}
LEAVE_CHECK_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Proof:
    """How a returned message proves whom it is about."""

    how: str  # "verp", "provider" (the ledger's id) or "headers"
    subscriber: Subscriber
    edition_id: int | None  # the edition it answers, when known
    probe_id: int | None = None  # the probe it answers


@dataclass
class Change:
    """One thing a message does to one reader."""

    subscriber: Subscriber
    what: str  # bounced, soft-bounce, complaint(-noted), unsubscribed, probe, leave-check
    detail: str
    edition_id: int | None = None


@dataclass
class MessagePlan:
    """What one message is and what it does: the dry run's entry and the real run's
    work."""

    message: str
    returned: Returned
    proof: Proof | None
    changes: list[Change] = field(default_factory=list)
    action: str = "none"
    disposition: str = "done"  # done, leave (a person's mail), aside (unreadable)

    def as_dict(self) -> dict[str, Any]:
        """The `process-mail --json` entry."""
        r = self.returned
        entry: dict[str, Any] = {
            "message": self.message,
            "kind": REPORTED_KIND.get(r.kind, r.kind),
            "failures": [
                {"address": f.address, "hard": f.hard, "status": f.status} for f in r.failures
            ],
            "complained": list(r.complained),
            "proof": self.proof.how if self.proof else "none",
            "action": self.action,
        }
        if r.feedback_type:
            entry["feedback_type"] = r.feedback_type
        if r.problem:
            entry["problem"] = r.problem
        return entry


@dataclass
class MailReport:
    """What one run over the mailbox did (or, dry, would do)."""

    dry_run: bool = False
    messages: list[MessagePlan] = field(default_factory=list)
    notices: dict[str, Any] = field(default_factory=dict)  # the queued emails' pass

    def count(self, what: str) -> int:
        """How many changes of one kind (bounced, complaint, probe, ...)."""
        return sum(c.what == what for m in self.messages for c in m.changes)

    def kinds(self) -> dict[str, int]:
        """Messages by reported kind."""
        counts: dict[str, int] = {}
        for m in self.messages:
            kind = REPORTED_KIND.get(m.returned.kind, m.returned.kind)
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """The ``process-mail --json`` shape."""
        return {
            "dry_run": self.dry_run,
            "messages": [m.as_dict() for m in self.messages],
            "kinds": self.kinds(),
            "bounced": self.count("bounced"),
            "soft": self.count("soft-bounce"),
            "complaints": self.count("complaint"),
            "unsubscribed": self.count("unsubscribed"),
            "probes": self.count("probe"),
            "leave_checks": self.count("leave-check"),
            "left_unread": sum(m.disposition == "leave" for m in self.messages),
            "set_aside": sum(m.disposition == "aside" for m in self.messages),
            "notices": self.notices,
        }


def process_return_path(
    db: Database,
    config: Config,
    now: datetime,
    *,
    maildir: Path | None = None,
    imap: bool = False,
    dry_run: bool = False,
) -> MailReport:
    """`process-mail`: read the Maildir given, or with ``imap`` the [imap] mailbox."""
    if (maildir is None) == (not imap):
        raise ConfigError("Give one mailbox: a Maildir folder, or --imap for [imap].")
    box: Mailbox = (
        ImapBox.connect(config.imap, _ca_file(config)) if imap else MaildirBox(maildir or Path())
    )
    return process_mail(db, config, box, now, dry_run=dry_run)


def process_configured_mail(
    db: Database, config: Config, now: datetime, *, dry_run: bool = False
) -> list[MailReport]:
    """The weekly run's first step: the configured return-path mailboxes, if any."""
    reports = []
    if config.bounce_maildir is not None:
        reports.append(
            process_return_path(db, config, now, maildir=config.bounce_maildir, dry_run=dry_run)
        )
    if config.imap.host:
        reports.append(process_return_path(db, config, now, imap=True, dry_run=dry_run))
    return reports


def _ca_file(config: Config) -> str:
    return str(config.resolve(config.imap.ca_file)) if config.imap.ca_file else ""


def process_mail(
    db: Database, config: Config, box: Mailbox, now: datetime, *, dry_run: bool = False
) -> MailReport:
    """Plan every new message in ``box``, and unless ``dry_run`` apply each plan, then
    mark its message done, leave it, or set it aside; then send the queued probes."""
    require_real_secret(config, "Reading returned mail (its VERP addresses are signed)")
    report = MailReport(dry_run=dry_run)
    max_bytes = config.bounces.max_message_kb * 1024
    try:
        for key, raw in box.new_messages(max_bytes):
            plan = plan_message(db, config, key, raw, now, max_bytes)
            report.messages.append(plan)
            if dry_run:
                continue
            with store.transaction(db):
                apply_plan(db, config, plan, now)
            if plan.disposition == "done":
                box.done(key)
            elif plan.disposition == "aside":
                box.set_aside(key)
    finally:
        box.close()
    if not dry_run and (report.count("probe") or report.count("leave-check")):
        run = send_queued(config, db, lambda: now)
        report.notices = dict(run.__dict__)
    return report


# ---------------------------------------------------------------- planning


def plan_message(
    db: Database, config: Config, key: str, raw: bytes | None, now: datetime, max_bytes: int
) -> MessagePlan:
    """What one message is, what it proves, and what it would do. Reads, never writes."""
    if raw is None:
        too_big = Returned("unreadable", problem=f"larger than {max_bytes // 1024} KB")
        return MessagePlan(key, too_big, None, action="set aside: too big", disposition="aside")
    returned = classify(raw)
    if returned.kind == "unreadable":
        action = f"set aside: {returned.problem}"
        return MessagePlan(key, returned, None, action=action, disposition="aside")
    if returned.kind == "other":
        return MessagePlan(key, returned, None, action="none: not a return", disposition="leave")
    return plan_returned(db, config, key, returned, now)


def plan_returned(
    db: Database, config: Config, key: str, returned: Returned, now: datetime
) -> MessagePlan:
    """What one return (from the mailbox, or a provider's verified webhook event) proves
    and would do. Reads, never writes."""
    proof = prove(db, config, returned)
    plan = MessagePlan(key, returned, proof)
    if returned.kind == "bounce":
        _plan_bounce(db, config, plan, now)
    elif returned.kind == "complaint":
        _plan_complaint(plan)
    elif returned.kind == "unsubscribe":
        _plan_request(db, config, plan, now)
    elif returned.kind == "left":
        _plan_left(plan)
    else:
        plan.action = {
            "report": f"none: a {returned.feedback_type or 'feedback'} report is no reader's wish",
            "autoreply": "none: an auto-reply",
            "delivered": "none: a delivery report",
        }.get(returned.kind, "none")
    return plan


def _plan_bounce(db: Database, config: Config, plan: MessagePlan, now: datetime) -> None:
    failures = plan.returned.failures
    proof = plan.proof
    if proof is not None:
        for failure in failures:
            if len(failures) == 1 or failure.address == proof.subscriber.email.lower():
                _proven_failure(db, config, plan, proof, failure)
    else:
        for failure in failures:
            _unproven_failure(db, config, plan, failure, now)
    plan.action = "; ".join(_describe(c) for c in plan.changes) or plan.action


def _proven_failure(
    db: Database, config: Config, plan: MessagePlan, proof: Proof, failure: Failure
) -> None:
    subscriber = proof.subscriber
    detail = f"{failure.status or 'no status'} {failure.reason}".strip()[:400]
    if subscriber.status != SubscriberStatus.ACTIVE:
        plan.action = f"none: {subscriber.email} is already {subscriber.status}"
        return
    if failure.hard:
        why = f"probe bounced: {detail}" if proof.probe_id else detail
        plan.changes.append(Change(subscriber, "bounced", why, proof.edition_id))
    elif proof.probe_id:
        plan.action = "none: a soft bounce of a probe"
    else:
        plan.changes.append(Change(subscriber, "soft-bounce", detail, proof.edition_id))
        known = proof.edition_id is not None and store.soft_bounced_in(
            db, subscriber.id, proof.edition_id
        )
        editions = store.soft_bounce_editions(db, subscriber.id) + (0 if known else 1)
        if editions >= config.bounces.soft_limit:
            limit = config.bounces.soft_limit
            why = f"{SOFT_LIMIT_DETAIL}{editions} editions (soft_limit {limit})"
            plan.changes.append(Change(subscriber, "bounced", why, proof.edition_id))


def _unproven_failure(
    db: Database, config: Config, plan: MessagePlan, failure: Failure, now: datetime
) -> None:
    if not failure.hard:
        plan.action = "none: a soft bounce without proof"
        return
    subscriber = store.get_subscriber(db, failure.address)
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE:
        plan.action = "none: names no active subscriber"
        return
    last = store.last_event_at(db, subscriber.id, "probe")
    if last is not None and now - last < timedelta(days=config.bounces.probe_days):
        plan.action = f"none: {subscriber.email} was probed on {last:%Y-%m-%d}"
        return
    detail = f"unproven {failure.status or 'hard'} bounce: {failure.reason}"[:400]
    plan.changes.append(Change(subscriber, "probe", detail))


def _plan_complaint(plan: MessagePlan) -> None:
    detail = f"feedback-type {plan.returned.feedback_type or 'unstated'}"
    _plan_leaving(plan, "complaint", detail, "the complaint quotes no message digest sent")


def _plan_left(plan: MessagePlan) -> None:
    """A reader who left through the provider's own unsubscribe link: the provider's
    signed event says so, and only a message digest sent that reader proves who."""
    detail = "the provider's unsubscribe link"
    _plan_leaving(plan, "unsubscribed", detail, "the event names no message digest sent")


# Who a complaint or an unsubscribe still takes off: a lapsed reader too, so that their
# old keep link no longer brings them back.
_MAY_LEAVE = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.LAPSED)


def _plan_leaving(plan: MessagePlan, what: str, detail: str, unproven: str) -> None:
    """A reader taking themselves off (a complaint, an unsubscribe), only on proof."""
    proof = plan.proof
    if proof is None:
        plan.action = f"none: {unproven}"
        return
    subscriber = proof.subscriber
    if subscriber.status not in _MAY_LEAVE:
        plan.action = f"none: {subscriber.email} is already {subscriber.status}"
        if what == "complaint" and proof.edition_id is not None:
            # the provider counts it against the list all the same: so does the guard
            plan.changes.append(Change(subscriber, "complaint-noted", detail, proof.edition_id))
            plan.action = _describe(plan.changes[0])
        return
    plan.changes.append(Change(subscriber, what, detail, proof.edition_id))
    plan.action = _describe(plan.changes[0])


def _plan_request(db: Database, config: Config, plan: MessagePlan, now: datetime) -> None:
    """A List-Unsubscribe mailto request: obeyed with the reader's token; without one, the
    reader is sent their own one-click link."""
    returned = plan.returned
    if returned.token:
        subscriber = subscriber_for_token(db, config, returned.token)
        if subscriber is None:
            plan.action = "none: the token is not valid"
        elif subscriber.status in _MAY_LEAVE:
            plan.proof = Proof("headers", subscriber, None)
            plan.changes.append(Change(subscriber, "unsubscribed", "mailto request"))
            plan.action = _describe(plan.changes[0])
        else:
            plan.action = f"none: {subscriber.email} is already {subscriber.status}"
        return
    subscriber = store.get_subscriber(db, returned.sender) if returned.sender else None
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE:
        plan.action = "none: no token, and the sender is no active subscriber"
        return
    last = store.last_event_at(db, subscriber.id, "leave-check")
    if last is not None and now - last < LEAVE_CHECK_EVERY:
        plan.action = f"none: {subscriber.email} got a one-click link on {last:%Y-%m-%d}"
        return
    plan.changes.append(Change(subscriber, "leave-check", "unsigned unsubscribe request"))
    plan.action = _describe(plan.changes[0])


def _describe(change: Change) -> str:
    return {
        "bounced": f"bounce {change.subscriber.email}",
        "soft-bounce": f"count a soft bounce for {change.subscriber.email}",
        "complaint": f"unsubscribe {change.subscriber.email} (complaint)",
        "unsubscribed": f"unsubscribe {change.subscriber.email}",
        "probe": f"send a probe to {change.subscriber.email}",
        "complaint-noted": f"note a complaint from {change.subscriber.email} "
        f"(already {change.subscriber.status})",
        "leave-check": f"send {change.subscriber.email} a one-click unsubscribe link",
    }[change.what]


# ---------------------------------------------------------------- proof


def prove(db: Database, config: Config, returned: Returned) -> Proof | None:
    """The subscriber (and edition or probe) a message proves it is about: its VERP
    address, a provider's id for the message in the ledger (SES, Mailgun: given at send
    time), a signed Message-ID or unsubscribe token it quotes; None otherwise."""
    for provider_id in returned.provider_ids:
        delivery = store.delivery_for_provider_id(db, provider_id)
        if delivery is not None:
            proof = _proof(db, "provider", delivery[1], Sent(edition=delivery[0]))
            if proof is not None:
                return proof
    for address in returned.delivered_to:
        found = parse_verp(config.secret, config.list_id, address)
        if found:
            proof = _proof(db, "verp", found[0], found[1])
            if proof is not None:
                return proof
    for message_id in returned.message_ids:
        ref = parse_message_id(config.secret, config.list_id, message_id)
        if ref is None or ref.test:
            continue
        edition = store.get_edition(db, ref.about)
        sent = ref.probe or (Sent(edition=edition.id) if edition else None)
        proof = _proof(db, "headers", ref.subscriber_id, sent) if sent else None
        if proof is not None:
            return proof
    for subscriber_id in find_tokens(config.secret, config.list_id, returned.quoted):
        subscriber = store.get_subscriber_by_id(db, subscriber_id)
        if subscriber is not None:
            return Proof("headers", subscriber, None)
    return None


def _proof(db: Database, how: str, subscriber_id: int, sent: Sent) -> Proof | None:
    """A proof when ``sent`` (an edition or a probe) is a message that really went to
    ``subscriber_id``."""
    subscriber = store.get_subscriber_by_id(db, subscriber_id)
    if subscriber is None:
        return None
    if sent.probe is not None:
        if store.event_of(db, sent.probe) != (subscriber_id, "probe"):
            return None
        return Proof(how, subscriber, None, sent.probe)
    if (
        sent.edition is None
        or store.delivery_status(db, sent.edition, subscriber_id) != DeliveryStatus.SENT
    ):
        return None
    return Proof(how, subscriber, sent.edition)


# ---------------------------------------------------------------- applying


# A change that takes a reader off the list: the status it leaves them in, and where the
# evidence came from when no webhook names it (a DSN or an ARF report in the mailbox).
_REMOVALS: dict[str, tuple[SubscriberStatus, str]] = {
    "bounced": (SubscriberStatus.BOUNCED, "dsn"),
    "complaint": (SubscriberStatus.UNSUBSCRIBED, "arf"),
}


def apply_plan(
    db: Database, config: Config, plan: MessagePlan, now: datetime, via: str = ""
) -> None:
    """Carry out one message's changes (inside the caller's transaction). ``via`` names
    where a webhook's event came from ("ses", "mailgun"...) in the subscriber's events;
    mailbox returns are "dsn", "arf" and "mailto"."""
    for change in plan.changes:
        s = change.subscriber
        if change.what == "soft-bounce":
            store.add_event(
                db, s.id, "soft-bounce", via or "dsn", now, change.detail, change.edition_id
            )
        elif change.what == "complaint-noted":  # the record only: the status stays
            store.add_event(
                db, s.id, "complaint", via or "arf", now, change.detail, change.edition_id
            )
        elif change.what in _REMOVALS:
            status, source = _REMOVALS[change.what]
            store.change_subscriber(
                db,
                s.id,
                now,
                via or source,
                status=status,
                event=change.what,
                detail=change.detail,
                edition_id=change.edition_id,
            )
        elif change.what == "unsubscribed":
            unsubscribe(db, s, now, via or "mailto")
        elif change.what == "probe":
            _queue_probe(db, config, s, change.detail, now)
        elif change.what == "leave-check":
            store.add_event(db, s.id, "leave-check", "mailto", now, change.detail)
            url = f"{config.base_url}/unsubscribe/{sign_token(config.secret, config.list_id, s.id)}"
            queue_notice(
                config, db, leave_check_notice(config, url), s.email, now, subscriber_id=s.id
            )


def _queue_probe(db: Database, config: Config, s: Subscriber, detail: str, now: datetime) -> None:
    """A probe from its own signed return path and with its own signed Message-ID."""
    probe_id = store.add_event(db, s.id, "probe", "dsn", now, detail)
    ref = Sent(probe=probe_id)
    domain = config.sender_address.rpartition("@")[2].lower()
    message_id = sign_message_id(config.secret, config.list_id, str(ref), s.id, domain)
    sender = (
        verp_address(config.secret, config.list_id, config.return_path, s.id, ref)
        if config.verp
        else ""
    )
    token = sign_token(config.secret, config.list_id, s.id)
    notice = probe_notice(config, f"{config.base_url}/preferences/{token}")
    queue_notice(
        config, db, notice, s.email, now, subscriber_id=s.id, sender=sender, message_id=message_id
    )
