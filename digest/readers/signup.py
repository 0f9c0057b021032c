"""Readers who sign themselves up: double opt-in.

A sign-up answers the same whatever the address's state (so the form cannot tell
anyone who is on the list), and only a confirmation from the reader's own inbox makes
them active:

    new, or unsubscribed earlier -> pending + confirmation email
    pending                       -> the confirmation again
    active                        -> a short "already subscribed" email
    bounced, or left by complaint -> nothing (they come back through their own
                                     preferences link: `rejoin`)
    lapsed (the sunset)           -> the confirmation (they stay lapsed until then)
    honeypot filled in            -> nothing

Emails are queued (`notices.queue_notice`), never sent while the reader waits, so
neither the address's state nor the relay shows in how long the answer takes. Limits
count what one person controls: `max_per_address_per_day` emails per mailbox (case,
+tag and ignored dots folded: `addresses.mailbox_key`), `max_per_ip_per_hour`
sign-ups per client (an IPv4 address, or an IPv6 /64).

A confirmation link is spent by its first use, by a newer sign-up, and by any later
change of the reader's status (unsubscribe, bounce, complaint).

Every sign-up, confirmation and expiry is a `subscriber_events` row with source
`signup` and the client as `[signup] store_ip` says (a keyed hash by default).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlite_utils import Database

from digest import store
from digest.addresses import clean_name, mailbox_key, normalize_email
from digest.config import Config
from digest.content.sections import topic_choices
from digest.errors import RowError, TooManySignups
from digest.models import Subscriber, SubscriberStatus, slugify
from digest.readers.notices import already_notice, confirm_notice, queue_notice, welcome_notice
from digest.readers.subscribers import suppression_keys
from digest.tokens import (
    client_key,
    confirmation_id,
    sign_confirmation,
    sign_token,
    verify_confirmation,
)

SOURCE = "signup"


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
    request = normalized(request)
    email = request.email
    client = client_key(config.secret, client_bucket(request.client))
    hour_ago = now - timedelta(hours=1)
    # The limits are counted and the sign-up written under one write lock, taken first:
    # sign-ups at once for one address cannot each find the limit not reached yet.
    with store.transaction(db):
        if (
            store.signups_from_client_since(db, client, hour_ago)
            >= config.signup.max_per_ip_per_hour
        ):
            raise TooManySignups("Too many sign-ups from here in the last hour; try again later.")
        if request.honeypot.strip():  # a bot filled in the field people never see
            return SignupAnswer(email, "")
        subscriber, previous = _pending_subscriber(db, email, request, now)
        if subscriber is None:  # bounced: nothing to say to a dead address
            return SignupAnswer(email, "")
        return _email(db, config, subscriber, previous, request, client, now)


def normalized(request: SignupRequest) -> SignupRequest:
    """The request with its address and name in the form the list keeps them, checked
    once here (RowError says what is wrong); everything after uses them as they are."""
    try:
        email = normalize_email(request.email)
    except RowError as e:
        raise RowError(f"That email address does not look right: {e.reason}", request.email) from e
    try:
        name = clean_name(request.name)
    except RowError as e:
        raise RowError(f"That name is too long: {e.reason}", request.name[:60]) from e
    return replace(request, email=email, name=name)


def _pending_subscriber(
    db: Database, email: str, request: SignupRequest, now: datetime
) -> tuple[Subscriber | None, str]:
    """The subscriber this sign-up is about, made pending when it should be."""
    found = store.get_subscriber(db, email)
    if found is None:
        new_id = store.insert_subscriber(
            db, email, request.name, [], now, status=SubscriberStatus.PENDING
        )
        return store.get_subscriber_by_id(db, new_id), ""
    if needs_fresh_opt_in(db, found):
        return None, found.status  # nobody but the reader may bring them back: `rejoin`
    if found.status == SubscriberStatus.UNSUBSCRIBED:
        store.change_subscriber(db, found.id, now, SOURCE, status=SubscriberStatus.PENDING)
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
    mailbox = mailbox_key(subscriber.email)
    may_email = (
        store.emails_sent_since(db, mailbox, day_ago) < config.signup.max_per_address_per_day
    )
    kind = "already" if subscriber.status == SubscriberStatus.ACTIVE else "confirm"
    offered = {slug for slug, _ in signup_topics(db, config)}
    topics = store.topics_key([t for t in request.topics if slugify(t) in offered])
    signup_id = store.add_signup(
        db,
        subscriber.id,
        subscriber.email,
        request.name,
        topics,
        previous
        if previous != SubscriberStatus.PENDING
        else store.first_previous_status(db, subscriber.id),
        client,
        may_email,
        now,
        mailbox,
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
    queue_notice(config, db, notice, subscriber.email, now, subscriber_id=subscriber.id)
    return SignupAnswer(subscriber.email, kind)


def client_bucket(address: str) -> str:
    """What one client controls: an IPv4 address, or an IPv6 /64 (one site's network,
    where every device may take any address). Anything else as given."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip() or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def rejoin(db: Database, config: Config, subscriber: Subscriber, now: datetime) -> bool:
    """A bounced reader, or one who left by complaint, asks to come back from their own
    preferences link: a fresh double opt-in (a confirmation email; nothing changes until
    they confirm). False when the per-mailbox limit says no more email today."""
    mailbox = mailbox_key(subscriber.email)
    day_ago = now - timedelta(days=1)
    with store.transaction(db):  # the limit counted under the lock the email is queued in
        if store.emails_sent_since(db, mailbox, day_ago) >= config.signup.max_per_address_per_day:
            return False
        signup_id = store.add_signup(
            db,
            subscriber.id,
            subscriber.email,
            subscriber.name,
            ",".join(subscriber.topics),
            subscriber.status,
            "",
            True,
            now,
            mailbox,
        )
        store.add_event(db, subscriber.id, "signup", "preferences", now, "asked to come back")
        url = confirm_url(config, signup_id, subscriber.email, now)
        notice = confirm_notice(config, url)
        queue_notice(config, db, notice, subscriber.email, now, subscriber_id=subscriber.id)
    return True


def needs_fresh_opt_in(db: Database, subscriber: Subscriber) -> bool:
    """A reader who bounced or complained comes back only through a fresh double
    opt-in, never by a click on an old link."""
    return subscriber.status == SubscriberStatus.BOUNCED or store.left_by_complaint(
        db, subscriber.id
    )


def signup_topics(db: Database, config: Config) -> list[tuple[str, str]]:
    """(slug, name) of the topics the form offers: the configured sections (none when
    nothing is configured: every reader gets everything)."""
    return topic_choices(config)


def _consent(config: Config, request: SignupRequest) -> str:
    mode = config.signup.store_ip
    if mode == "none" or not request.client:
        return ""
    shown = request.client if mode == "raw" else client_key(config.secret, request.client)
    return f"client {shown}"


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

    state: str  # valid, used (spent by a newer sign-up or a later change), expired, invalid
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
    if signup.confirmed_at is not None:  # spent by its own first use: says so again
        return Confirmation("valid", subscriber, preferences_url(config, subscriber.id), signup)
    if store.newer_signup(db, signup.id, subscriber.id) or store.status_changed_since(
        db, subscriber.id, signup.requested_at
    ):
        return Confirmation("used", subscriber, signup=signup)
    expires = signup.requested_at + timedelta(hours=config.signup.confirm_hours)
    if now >= expires:
        return Confirmation("expired", subscriber, signup=signup)
    return Confirmation("valid", subscriber, preferences_url(config, subscriber.id), signup)


def confirm(db: Database, config: Config, token: str, now: datetime) -> Confirmation:
    """POST on the link: the reader becomes active with the topics they chose. Twice is
    harmless; an expired or altered link changes nothing."""
    with store.transaction(db):  # checked and spent under one lock: a double POST is one
        found = check_confirmation(db, config, token, now)
        signup = found.signup
        if found.state != "valid" or found.subscriber is None or signup is None:
            return found
        first = signup.confirmed_at is None
        store.mark_confirmed(db, signup.id, now)
        if first:  # their own fresh opt-in: off the suppression list, if they were on it
            for key in suppression_keys(config, found.subscriber.email):
                store.unsuppress(db, key)
        if first and found.subscriber.status in (
            SubscriberStatus.PENDING,
            SubscriberStatus.UNSUBSCRIBED,
            SubscriberStatus.BOUNCED,
            SubscriberStatus.LAPSED,
        ):
            store.update_profile(db, found.subscriber.id, signup.name, signup.topics, now)
            store.change_subscriber(
                db,
                found.subscriber.id,
                now,
                SOURCE,
                status=SubscriberStatus.ACTIVE,
                event="confirmed",
            )
        if first and config.signup.welcome:
            notice = welcome_notice(config, found.preferences_url)
            queue_notice(
                config, db, notice, found.subscriber.email, now, subscriber_id=found.subscriber.id
            )
    current = store.get_subscriber_by_id(db, found.subscriber.id)
    return replace(found, subscriber=current)


def purge_pending(db: Database, config: Config, now: datetime) -> int:
    """Pending sign-ups older than `confirm_hours`: a new address is removed, one that
    had unsubscribed goes back to unsubscribed (its consent record stays). Returns how
    many."""
    before = now - timedelta(hours=config.signup.confirm_hours)
    with store.transaction(db):
        expired = store.expired_pending(db, before)
        for subscriber_id, previous in expired:
            if previous == SubscriberStatus.UNSUBSCRIBED:
                store.change_subscriber(
                    db,
                    subscriber_id,
                    now,
                    SOURCE,
                    status=SubscriberStatus.UNSUBSCRIBED,
                    event="expired",
                )
            else:
                store.delete_subscriber_by_id(db, subscriber_id)
    return len(expired)
