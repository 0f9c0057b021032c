"""Leaving the list: signed tokens to subscribers, by web (one-click) or by mail (Maildir).

Shared by ``digest.web`` and the ``process-unsubscribes`` command, so that every way
out applies the same rule: a valid token for this list, an existing subscriber, and an
idempotent change recorded in the subscriber's events.
"""

from __future__ import annotations

import mailbox
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.errors import ConfigError, MaildirError
from digest.models import Subscriber
from digest.tokens import verify_token

_SUBJECT_TOKEN = re.compile(r"\bunsubscribe\s+([0-9]+\.[A-Za-z0-9_-]+)", re.IGNORECASE)


def subscriber_for_token(db: Database, config: Config, token: str) -> Subscriber | None:
    """The subscriber a valid token names; None for a forged, altered or stale token."""
    subscriber_id = verify_token(config.secret, config.list_id, token)
    if subscriber_id is None:
        return None
    return store.get_subscriber_by_id(db, subscriber_id)


def unsubscribe(db: Database, subscriber: Subscriber, now: datetime, source: str) -> bool:
    """Take a subscriber off the list (one-click, mailto); False when already off."""
    return store.change_subscriber(db, subscriber.id, now, source, status="unsubscribed")


@dataclass(frozen=True)
class PreferencesView:
    """What the preferences page shows: the subscriber as now stored and every topic."""

    subscriber: Subscriber
    topics: list[tuple[str, str]]


def preferences_view(db: Database, subscriber: Subscriber) -> PreferencesView:
    """The subscriber's current choice and the topics they can pick from."""
    current = store.get_subscriber_by_id(db, subscriber.id) or subscriber
    return PreferencesView(current, store.all_topics(db))


PREFERENCE_ACTIONS = {
    "save": "Your topics are saved.",
    "resubscribe": "Welcome back: you are subscribed again.",
    "unsubscribe": "You are unsubscribed.",
}


def apply_preferences(
    db: Database, subscriber: Subscriber, action: str, topics: list[str], now: datetime
) -> str | None:
    """Save topics, resubscribe or unsubscribe from the preferences page; return what to
    tell the reader, or None for an unknown action. Unknown topic slugs are ignored."""
    if action not in PREFERENCE_ACTIONS:
        return None
    known = {slug for slug, _ in store.all_topics(db)}
    chosen = [t for t in topics if t in known]
    if action == "save":
        store.change_subscriber(db, subscriber.id, now, "preferences", topics=chosen)
    elif action == "resubscribe":
        store.change_subscriber(
            db, subscriber.id, now, "preferences", status="active", topics=chosen
        )
    else:
        store.change_subscriber(db, subscriber.id, now, "preferences", status="unsubscribed")
    return PREFERENCE_ACTIONS[action]


def mask_email(address: str) -> str:
    """'ana.sousa@example.org' -> 'a…a@example.org': enough to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    shown = local[0] + "…" + local[-1] if len(local) > 2 else local[0] + "…"
    return f"{shown}@{domain}"


@dataclass
class MaildirReport:
    """What processing a Maildir of unsubscribe requests did."""

    unsubscribed: int = 0
    already: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The ``process-unsubscribes --json`` shape."""
        return {"unsubscribed": self.unsubscribed, "already": self.already, "invalid": self.invalid}


def process_maildir(db: Database, config: Config, path: Path, now: datetime) -> MaildirReport:
    """Apply each unsubscribe request in the Maildir's new/ folder, then file it as seen."""
    if not config.secret:
        raise ConfigError("DIGEST_SECRET is not set: it checks each request's token.")
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        raise MaildirError(f"{path} is not a Maildir (it needs new/ and cur/ folders).")
    box = mailbox.Maildir(str(path), create=False)
    report = MaildirReport()
    for key in [k for k in box.iterkeys() if box.get_message(k).get_subdir() == "new"]:
        message = box.get_message(key)
        _apply_request(db, config, key, message, now, report)
        message.set_subdir("cur")
        message.add_flag("S")
        box[key] = message
    return report


def _apply_request(
    db: Database,
    config: Config,
    key: str,
    message: mailbox.MaildirMessage,
    now: datetime,
    report: MaildirReport,
) -> None:
    subject = _decoded_subject(message)
    found = _SUBJECT_TOKEN.search(subject)
    subscriber = subscriber_for_token(db, config, found.group(1)) if found else None
    if subscriber is None:
        reason = "no valid unsubscribe token in the subject" if found is None else "bad token"
        report.invalid.append({"message": key, "reason": reason, "subject": subject[:120]})
        return
    if unsubscribe(db, subscriber, now, "mailto"):
        report.unsubscribed += 1
    else:
        report.already += 1


def _decoded_subject(message: mailbox.MaildirMessage) -> str:
    raw = message.get("Subject", "")
    try:
        return str(make_header(decode_header(str(raw))))
    except (UnicodeDecodeError, LookupError, ValueError):
        return str(raw)
