"""Leaving the list and choosing topics: signed tokens to subscribers, one-click,
the preferences page's actions.

Shared by ``digest.web.app`` and ``digest.returns.process`` (mailto requests), so that every way out
applies the same rule: a valid token for this list, an existing subscriber, and an
idempotent change recorded in the subscriber's events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.sections import section_plan, topic_choices
from digest.models import Subscriber, SubscriberStatus, slugify
from digest.readers.signup import needs_fresh_opt_in, rejoin
from digest.tokens import verify_token


def subscriber_for_token(db: Database, config: Config, token: str) -> Subscriber | None:
    """The subscriber a valid token names; None for a forged, altered or stale token."""
    subscriber_id = verify_token(config.secret, config.list_id, token)
    if subscriber_id is None:
        return None
    return store.get_subscriber_by_id(db, subscriber_id)


def unsubscribe(db: Database, subscriber: Subscriber, now: datetime, source: str) -> bool:
    """Take a subscriber off the list (one-click, mailto); False when already off."""
    return store.change_subscriber(
        db, subscriber.id, now, source, status=SubscriberStatus.UNSUBSCRIBED
    )


@dataclass(frozen=True)
class PreferencesView:
    """What the preferences page shows: the subscriber as now stored and every topic."""

    subscriber: Subscriber
    topics: list[tuple[str, str]]


def preferences_view(db: Database, config: Config, subscriber: Subscriber) -> PreferencesView:
    """The subscriber's current choice and the topics they can pick from: the
    configured sections (`sections.topic_choices`)."""
    current = store.get_subscriber_by_id(db, subscriber.id) or subscriber
    keys = section_plan(config).chosen(",".join(current.topics))  # old ASCII keys too
    return PreferencesView(replace(current, topics=tuple(sorted(keys))), topic_choices(config))


PREFERENCE_ACTIONS = {
    "save": "Your topics are saved.",
    "resubscribe": "Welcome back: you are subscribed again.",
    "unsubscribe": "You are unsubscribed.",
}
REJOIN_SENT = (
    "We sent a confirmation link to your address: use it to come back. (Mail to it "
    "bounced, or you reported one of our emails, so we ask first.)"
)
REJOIN_LIMIT = "We already sent you a confirmation link today; please use that one."


def apply_preferences(
    db: Database,
    config: Config,
    subscriber: Subscriber,
    action: str,
    topics: list[str],
    now: datetime,
) -> str | None:
    """Save topics, resubscribe or unsubscribe from the preferences page; return what to
    tell the reader, or None for an unknown action. Unknown topic slugs are ignored. A
    reader who bounced or complained is not resubscribed by the click: they get a fresh
    confirmation email (`signup.rejoin`). Every button pressed is recorded (the
    consent record, and a sign of life for `sunset`); only the page's buttons count, never
    a visit: mail scanners fetch every link of every email."""
    if action not in PREFERENCE_ACTIONS:
        return None
    current = store.get_subscriber_by_id(db, subscriber.id) or subscriber
    known = {slug for slug, _ in topic_choices(config)}
    chosen = [slugify(t) for t in topics if slugify(t) in known]  # a key, or its name
    if action == "save":
        if not store.change_subscriber(db, subscriber.id, now, "preferences", topics=chosen):
            # the same topics saved again: no change, but the reader's own act all the
            # same (a sign of life for the sunset)
            store.add_event(db, subscriber.id, "preferences", "preferences", now, "saved")
    elif action == "resubscribe" and needs_fresh_opt_in(db, current):
        return REJOIN_SENT if rejoin(db, config, current, now) else REJOIN_LIMIT
    elif action == "resubscribe":
        store.change_subscriber(
            db, subscriber.id, now, "preferences", status=SubscriberStatus.ACTIVE, topics=chosen
        )
    else:
        store.change_subscriber(
            db, subscriber.id, now, "preferences", status=SubscriberStatus.UNSUBSCRIBED
        )
    return PREFERENCE_ACTIONS[action]


def mask_email(address: str) -> str:
    """'ana.sousa@example.org' -> 'a…a@example.org': enough to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    shown = local[0] + "…" + local[-1] if len(local) > 2 else local[0] + "…"
    return f"{shown}@{domain}"
