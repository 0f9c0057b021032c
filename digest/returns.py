"""`digest process-mail`: what came back to the return path, applied to the list.

Each new message is classified (`bounces.classify`), matched to a subscriber (by the
VERP address it was sent to, then digest's own Message-ID in the returned headers, then
the failed recipient it names, and only if that address is a subscriber), applied as a
subscriber event with its status code and reason, and only then marked done:

    hard bounce            -> bounced
    soft bounce            -> counted; from `[bounces] soft_limit` editions -> bounced
    complaint (ARF)        -> unsubscribed, event "complaint"
    unsubscribe request    -> unsubscribed (the mailto of List-Unsubscribe)
    auto-reply, delivered,
    auth-failure report,
    anything else          -> nothing
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.bounces import Failure, Returned, classify
from digest.config import Config
from digest.errors import ConfigError
from digest.mailboxes import ImapBox, Mailbox, MaildirBox
from digest.models import Subscriber
from digest.tokens import parse_verp
from digest.unsubscribe import subscriber_for_token, unsubscribe

SOURCE = {"bounce": "dsn", "complaint": "arf", "unsubscribe": "mailto"}


@dataclass
class MailReport:
    """What one run over the mailbox did."""

    messages: dict[str, int] = field(default_factory=dict)  # by kind
    bounced: int = 0  # subscribers now bounced (hard, or soft past the limit)
    soft: int = 0  # soft bounces counted
    complaints: int = 0  # subscribers unsubscribed by a complaint
    unsubscribed: int = 0  # subscribers unsubscribed by a mailto request
    already: int = 0  # about subscribers already off the list
    changes: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The ``process-mail --json`` shape."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Ref:
    """Who a report is about, when the message itself says (VERP or Message-ID)."""

    subscriber: Subscriber
    edition_id: int | None


def process_return_path(
    db: Database, config: Config, now: datetime, *, maildir: Path | None = None, imap: bool = False
) -> MailReport:
    """`process-mail`: read the Maildir given, or with ``imap`` the [imap] mailbox."""
    if (maildir is None) == (not imap):
        raise ConfigError("Give one mailbox: a Maildir folder, or --imap for [imap].")
    box: Mailbox = (
        ImapBox.connect(config.imap, _ca_file(config)) if imap else MaildirBox(maildir or Path())
    )
    return process_mail(db, config, box, now)


def process_configured_mail(db: Database, config: Config, now: datetime) -> list[MailReport]:
    """The weekly run's first step: the configured return-path mailboxes, if any."""
    reports = []
    if config.bounce_maildir is not None:
        reports.append(process_return_path(db, config, now, maildir=config.bounce_maildir))
    if config.imap.host:
        reports.append(process_return_path(db, config, now, imap=True))
    return reports


def _ca_file(config: Config) -> str:
    return str(config.resolve(config.imap.ca_file)) if config.imap.ca_file else ""


def process_mail(db: Database, config: Config, box: Mailbox, now: datetime) -> MailReport:
    """Apply every new message in ``box``; each is marked done once applied."""
    if not config.secret:
        raise ConfigError(
            "DIGEST_SECRET is not set: it checks the tokens and VERP addresses in "
            "returned mail. Set it to the same value the sender uses."
        )
    report = MailReport()
    try:
        for key, raw in box.new_messages():
            returned = classify(raw)
            report.messages[returned.kind] = report.messages.get(returned.kind, 0) + 1
            with db.atomic():
                _apply(db, config, key, returned, now, report)
            box.done(key)
    finally:
        box.close()
    return report


def _apply(
    db: Database, config: Config, key: str, returned: Returned, now: datetime, report: MailReport
) -> None:
    if returned.kind == "bounce":
        ref = _reference(db, config, returned)
        for failure in returned.failures:
            subscriber, edition = _who(db, ref, failure.address, len(returned.failures))
            if subscriber is None:
                report.unmatched.append(_unmatched(key, returned, failure.address))
                continue
            _bounce(db, config, subscriber, failure, edition, now, report)
    elif returned.kind == "complaint":
        ref = _reference(db, config, returned)
        addresses = returned.complained or ((ref.subscriber.email,) if ref else ())
        for address in addresses or ("",):
            subscriber, edition = _who(db, ref, address, len(addresses))
            if subscriber is None:
                report.unmatched.append(_unmatched(key, returned, address))
                continue
            detail = f"feedback-type {returned.feedback_type or 'unstated'}"
            _leave(db, subscriber, "complaint", "arf", detail, edition, now, report)
    elif returned.kind == "unsubscribe":
        _request(db, config, key, returned, now, report)


def _request(
    db: Database, config: Config, key: str, returned: Returned, now: datetime, report: MailReport
) -> None:
    """A List-Unsubscribe mailto request: by its token, else by who sent it."""
    if returned.token:
        subscriber = subscriber_for_token(db, config, returned.token)
        reason = "bad token"
    else:
        subscriber = store.get_subscriber(db, returned.sender) if returned.sender else None
        reason = "no token, and the sender is not a subscriber"
    if subscriber is None:
        report.unmatched.append(
            {
                "message": key,
                "kind": "unsubscribe",
                "reason": reason,
                "subject": returned.subject[:120],
            }
        )
        return
    if unsubscribe(db, subscriber, now, "mailto"):
        report.unsubscribed += 1
        report.changes.append(
            {"email": subscriber.email, "event": "unsubscribed", "detail": "mailto request"}
        )
    else:
        report.already += 1


def _bounce(
    db: Database,
    config: Config,
    subscriber: Subscriber,
    failure: Failure,
    edition_id: int | None,
    now: datetime,
    report: MailReport,
) -> None:
    detail = f"{failure.status or 'no status'} {failure.reason}".strip()[:400]
    if failure.hard:
        _leave(db, subscriber, "bounced", "dsn", detail, edition_id, now, report)
        return
    if subscriber.status != "active":
        report.already += 1
        return
    store.add_event(db, subscriber.id, "soft-bounce", "dsn", now, detail, edition_id)
    report.soft += 1
    report.changes.append({"email": subscriber.email, "event": "soft-bounce", "detail": detail})
    editions = store.soft_bounce_editions(db, subscriber.id)
    if editions >= config.bounces.soft_limit:
        why = f"soft bounces from {editions} editions (soft_limit {config.bounces.soft_limit})"
        _leave(db, subscriber, "bounced", "dsn", why, edition_id, now, report)


def _leave(
    db: Database,
    subscriber: Subscriber,
    event: str,
    source: str,
    detail: str,
    edition_id: int | None,
    now: datetime,
    report: MailReport,
) -> None:
    """Take an active subscriber off the list for a bounce or a complaint."""
    status = "bounced" if event == "bounced" else "unsubscribed"
    current = store.subscriber_status(db, subscriber.id)
    if current not in ("active", "pending"):
        report.already += 1
        return
    store.change_subscriber(
        db,
        subscriber.id,
        now,
        source,
        status=status,
        event=event,
        detail=detail,
        edition_id=edition_id,
    )
    if event == "complaint":
        report.complaints += 1
    else:
        report.bounced += 1
    report.changes.append({"email": subscriber.email, "event": event, "detail": detail})


def _reference(db: Database, config: Config, returned: Returned) -> _Ref | None:
    """The subscriber (and edition) the message itself names: VERP, then Message-ID."""
    for address in returned.delivered_to:
        found = parse_verp(config.secret, config.list_id, address)
        if found:
            subscriber = store.get_subscriber_by_id(db, found[0])
            if subscriber is not None:
                return _Ref(subscriber, found[1])
    pattern = _own_message_id(config.list_id)
    for message_id in returned.message_ids:
        hit = pattern.match(message_id)
        if hit:
            subscriber = store.get_subscriber_by_id(db, int(hit.group(2)))
            edition = store.get_edition(db, hit.group(1))
            if subscriber is not None:
                return _Ref(subscriber, edition.id if edition else None)
    return None


@lru_cache(maxsize=4)
def _own_message_id(list_id: str) -> re.Pattern[str]:
    """digest's Message-IDs (`message.message_id`): week and subscriber id."""
    return re.compile(r"<(?:test-\d+-)?(\d{4}-W\d{2})\.(\d+)\." + re.escape(list_id) + r"@", re.I)


def _who(
    db: Database, ref: _Ref | None, address: str, named: int
) -> tuple[Subscriber | None, int | None]:
    """The subscriber a failure or complaint is about: the message's own reference when
    it names just one recipient (or this one), else the address if it is a subscriber."""
    if ref is not None and (named <= 1 or address.lower() == ref.subscriber.email.lower()):
        return ref.subscriber, ref.edition_id
    subscriber = store.get_subscriber(db, address) if address else None
    return subscriber, None


def _unmatched(key: str, returned: Returned, address: str) -> dict[str, Any]:
    return {
        "message": key,
        "kind": returned.kind,
        "address": address,
        "reason": "names no subscriber",
        "subject": returned.subject[:120],
    }
