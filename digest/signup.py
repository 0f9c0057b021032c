"""Readers who sign themselves up: double opt-in.

A sign-up answers the same whatever the address's state (so the form cannot tell
anyone who is on the list), and only a confirmation from the reader's own inbox makes
them active:

    new, or unsubscribed earlier -> pending + confirmation email (at most
                                    `max_per_address_per_day` a day)
    pending                       -> the confirmation again (same limit)
    active                        -> at most a short "already subscribed" email
    bounced                       -> nothing
    honeypot filled in            -> nothing

Every sign-up, confirmation and expiry is a `subscriber_events` row with source
`signup` and the client as `[signup] store_ip` says (a keyed hash by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.errors import DigestError, RowError
from digest.models import Subscriber, slugify
from digest.notices import Notice, already_notice, confirm_notice, send_notice, welcome_notice
from digest.subscribers import clean_name, normalize_email
from digest.tokens import (
    client_key,
    confirmation_id,
    sign_confirmation,
    sign_token,
    verify_confirmation,
)

log = logging.getLogger(__name__)
SOURCE = "signup"


class TooManySignups(DigestError):
    """One client asked too often: the page answers 429."""


@dataclass(frozen=True)
class SignupRequest:
    """What the form posted, and from where."""

    email: str
    name: str = ""
    topics: tuple[str, ...] = ()
    honeypot: str = ""
    client: str = ""  # the client's IP address as the web layer determined it


@dataclass(frozen=True)
class SignupAnswer:
    """What the page may say: always the same for a valid address. ``emailed`` is for
    tests and logs only, never for the reader."""

    email: str
    emailed: str  # "", confirm or already


def sign_up(db: Database, config: Config, request: SignupRequest, now: datetime) -> SignupAnswer:
    """Handle one sign-up; RowError for a malformed address, TooManySignups past the
    client's hourly limit."""
    try:
        email = normalize_email(request.email)
    except RowError as e:
        raise RowError(f"That email address does not look right: {e.reason}", request.email) from e
    client = client_key(config.secret, request.client or "unknown")
    hour_ago = now - timedelta(hours=1)
    if store.signups_from_client_since(db, client, hour_ago) >= config.signup.max_per_ip_per_hour:
        raise TooManySignups("Too many sign-ups from here in the last hour; try again later.")
    if request.honeypot.strip():  # a bot filled in the field people never see
        return SignupAnswer(email, "")
    with db.atomic():
        subscriber, previous = _pending_subscriber(db, email, request, now)
    if subscriber is None:  # bounced: nothing to say to a dead address
        return SignupAnswer(email, "")
    return _email(db, config, subscriber, previous, request, client, now)


def _pending_subscriber(
    db: Database, email: str, request: SignupRequest, now: datetime
) -> tuple[Subscriber | None, str]:
    """The subscriber this sign-up is about, made pending when it should be."""
    found = store.get_subscriber(db, email)
    if found is None:
        name = clean_name(request.name)
        new_id = store.insert_subscriber(db, email, name, [], now, status="pending")
        return store.get_subscriber_by_id(db, new_id), ""
    if found.status == "bounced":
        return None, found.status
    if found.status == "unsubscribed":
        store.change_subscriber(db, found.id, now, SOURCE, status="pending")
    return found, found.status


def _email(
    db: Database,
    config: Config,
    subscriber: Subscriber,
    previous: str,
    request: SignupRequest,
    client: str,
    now: datetime,
) -> SignupAnswer:
    day_ago = now - timedelta(days=1)
    allowed = store.emails_sent_since(db, subscriber.email, day_ago)
    may_email = allowed < config.signup.max_per_address_per_day
    kind = "already" if subscriber.status == "active" else "confirm"
    offered = {slug for slug, _ in signup_topics(db, config)}
    topics = store.topics_key([t for t in request.topics if t in offered])
    signup_id = store.add_signup(
        db,
        subscriber.id,
        subscriber.email,
        clean_name(request.name),
        topics,
        previous if previous != "pending" else store.first_previous_status(db, subscriber.id),
        client,
        may_email,
        now,
    )
    if kind == "confirm":
        store.add_event(db, subscriber.id, "signup", SOURCE, now, _consent(config, request))
    if not may_email:
        return SignupAnswer(subscriber.email, "")
    notice = (
        confirm_notice(config, confirm_url(config, signup_id, subscriber.email, now))
        if kind == "confirm"
        else already_notice(config, preferences_url(config, subscriber.id))
    )
    _send(config, notice, subscriber.email, now)
    return SignupAnswer(subscriber.email, kind)


def signup_topics(db: Database, config: Config) -> list[tuple[str, str]]:
    """(slug, name) of the topics the form offers: the configured sections, else every
    topic the store knows."""
    if config.digest.section_order:
        return [(slugify(name), name) for name in config.digest.section_order]
    return store.all_topics(db)


def _consent(config: Config, request: SignupRequest) -> str:
    mode = config.signup.store_ip
    if mode == "none" or not request.client:
        return ""
    shown = request.client if mode == "raw" else client_key(config.secret, request.client)
    return f"client {shown}"


def _send(config: Config, notice: Notice, to: str, now: datetime) -> None:
    """Send a notice; a relay that fails is logged, and the page still answers the same."""
    try:
        outcome = send_notice(config, notice, to, now)
    except DigestError as e:
        log.error("the %s email to a new reader could not be sent: %s", notice.kind, e)
        return
    if outcome.status != "sent":
        log.error("the %s email was not sent: %s", notice.kind, outcome.error)


def confirm_url(config: Config, signup_id: int, email: str, requested: datetime) -> str:
    """The link in the confirmation email."""
    token = sign_confirmation(
        config.secret, config.list_id, signup_id, email, int(requested.timestamp())
    )
    return f"{config.base_url}/confirm/{token}"


def preferences_url(config: Config, subscriber_id: int) -> str:
    """The subscriber's own preferences page."""
    return (
        f"{config.base_url}/preferences/{sign_token(config.secret, config.list_id, subscriber_id)}"
    )


# ---------------------------------------------------------------- confirming


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link is: valid (with its subscriber), expired, or not ours."""

    state: str  # valid, expired, invalid
    subscriber: Subscriber | None = None
    preferences_url: str = ""
    signup: store.SignupRow | None = None


def check_confirmation(db: Database, config: Config, token: str, now: datetime) -> Confirmation:
    """What a confirmation link is, changing nothing (GET: mail scanners prefetch links)."""
    signup_id = confirmation_id(token)
    signup = store.get_signup(db, signup_id) if signup_id else None
    if signup is None or not verify_confirmation(
        config.secret,
        config.list_id,
        token,
        signup.id,
        signup.email,
        int(signup.requested_at.timestamp()),
    ):
        return Confirmation("invalid")
    subscriber = store.get_subscriber_by_id(db, signup.subscriber_id)
    if subscriber is None:
        return Confirmation("invalid")
    expires = signup.requested_at + timedelta(hours=config.signup.confirm_hours)
    if signup.confirmed_at is None and now >= expires:
        return Confirmation("expired", subscriber, signup=signup)
    return Confirmation("valid", subscriber, preferences_url(config, subscriber.id), signup)


def confirm(db: Database, config: Config, token: str, now: datetime) -> Confirmation:
    """POST on the link: the reader becomes active with the topics they chose. Twice is
    harmless; an expired or altered link changes nothing."""
    found = check_confirmation(db, config, token, now)
    signup = found.signup
    if found.state != "valid" or found.subscriber is None or signup is None:
        return found
    with db.atomic():
        first = signup.confirmed_at is None
        store.mark_confirmed(db, signup.id, now)
        if first and found.subscriber.status in ("pending", "unsubscribed"):
            store.update_profile(db, found.subscriber.id, signup.name, signup.topics, now)
            store.change_subscriber(
                db, found.subscriber.id, now, SOURCE, status="active", event="confirmed"
            )
    if first and config.signup.welcome:
        _send(config, welcome_notice(config, found.preferences_url), found.subscriber.email, now)
    current = store.get_subscriber_by_id(db, found.subscriber.id)
    return replace(found, subscriber=current)


def purge_pending(db: Database, config: Config, now: datetime) -> int:
    """Pending sign-ups older than `confirm_hours`: a new address is removed, one that
    had unsubscribed goes back to unsubscribed (its consent record stays). Returns how
    many."""
    before = now - timedelta(hours=config.signup.confirm_hours)
    expired = store.expired_pending(db, before)
    with db.atomic():
        for subscriber_id, previous in expired:
            if previous == "unsubscribed":
                store.change_subscriber(
                    db, subscriber_id, now, SOURCE, status="unsubscribed", event="expired"
                )
            else:
                store.delete_subscriber_by_id(db, subscriber_id)
    return len(expired)
