"""One-off emails to one reader: the sign-up confirmation, "you are already subscribed",
the optional welcome, a probe of an address reported as failing, the check that a
reader asked to leave, and the sunset's re-permission email. Rendered from the notice
templates (HTML and text), and queued in the store (`queue_notice`), then sent over the
configured relay or written to the outbox by whoever runs next (`send_queued`), each
outcome recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.render import isolated_text, render_notice
from digest.errors import DeliveryError
from digest.language import language
from digest.mail.dkimsign import sign_message
from digest.mail.pool import Job, Outcome
from digest.mail.transports import pool_settings, send_messages
from digest.models import Clock, DeliveryStatus


@dataclass(frozen=True)
class Notice:
    """What a notice says: subject, heading, paragraphs, and one button."""

    kind: str  # confirm, already, welcome, probe, leave-check, sunset
    subject: str
    heading: str
    paragraphs: tuple[str, ...]
    button_label: str = ""
    button_url: str = ""
    footnote: str = ""
    unsubscribe_url: str = ""  # one-click (RFC 8058) for a notice sent to many at once


def confirm_notice(config: Config, url: str) -> Notice:
    """The double opt-in email: one link that confirms."""
    _, _named = _words(config)
    hours = config.signup.confirm_hours
    return Notice(
        "confirm",
        _named("Confirm your subscription to %(name)s"),
        _("Please confirm your subscription"),
        (
            _named("Someone, hopefully you, asked to receive %(name)s at this address."),
            _("To start receiving it, confirm with the button below."),
        ),
        _("Confirm my subscription"),
        url,
        _(
            "The link works for %(hours)s hours. If you did not ask for this, ignore this "
            "email: you will not be subscribed and will hear nothing more from us."
        )
        % {"hours": f"{hours:g}"},
    )


def already_notice(config: Config, preferences_url: str) -> Notice:
    """To an address that is subscribed already: nothing changed, here are its topics."""
    _, _named = _words(config)
    return Notice(
        "already",
        _named("You are already subscribed to %(name)s"),
        _("You are already subscribed"),
        (
            _named(
                "Someone asked to subscribe this address to %(name)s, and it already is: "
                "nothing has changed."
            ),
        ),
        _("Manage your topics"),
        preferences_url,
        _("If that was not you, you can ignore this email."),
    )


def welcome_notice(config: Config, preferences_url: str) -> Notice:
    """After a confirmation, when `[signup] welcome` is on."""
    _, _named = _words(config)
    return Notice(
        "welcome",
        _named("Welcome to %(name)s"),
        _named("Welcome to %(name)s"),
        (_("You are subscribed. The next edition comes with the next weekly send."),),
        _("Choose your topics"),
        preferences_url,
        _("Every email has a link to unsubscribe in one click."),
    )


def probe_notice(config: Config, preferences_url: str) -> Notice:
    """To an address a mail system said is failing, without proof: if this one bounces
    (its return path proves it), the address is gone; if it arrives, nothing changes."""
    _, _named = _words(config)
    return Notice(
        "probe",
        _named("Checking that %(name)s reaches you"),
        _("Checking that our email reaches you"),
        (
            _(
                "A mail system told us that email to this address cannot be delivered. If "
                "you are reading this, that was a mistake, and there is nothing you need to "
                "do: you stay subscribed."
            ),
        ),
        _("Manage your subscription"),
        preferences_url,
        _named("You get this email once because you subscribe to %(name)s."),
    )


def leave_check_notice(config: Config, unsubscribe_url: str) -> Notice:
    """To a reader an unsigned "unsubscribe" email named: anyone can send one with any
    From, so the reader confirms with their own signed link."""
    _, _named = _words(config)
    return Notice(
        "leave-check",
        _named("Did you ask to leave %(name)s?"),
        _named("Did you ask to leave %(name)s?"),
        (
            _named(
                "We received an email asking to unsubscribe this address from %(name)s. "
                "Anyone can send such an email in your name, so we ask you first."
            ),
            _("To leave, use the button below: one click, and you are unsubscribed."),
        ),
        _("Unsubscribe"),
        unsubscribe_url,
        _("If you did not ask, ignore this email: you stay subscribed."),
    )


def sunset_notice(config: Config, keep_url: str, unsubscribe_url: str) -> Notice:
    """The re-permission email (`readers.sunset`): to a reader who has shown no sign of
    life in many editions, asked once; one signed link keeps them on the list. Sent to
    many readers at once, it carries the editions' one-click List-Unsubscribe."""
    _, _named = _words(config)
    days = config.sunset.answer_days
    return Notice(
        "sunset",
        _named("Do you still want %(name)s?"),
        _named("Do you still want %(name)s?"),
        (
            _named(
                "You have been getting %(name)s for a while, and we have not heard from "
                "you in many editions. We only want to send it to people who read it."
            ),
            _("If you want to keep receiving it, use the button below: one click is enough."),
        ),
        _("Keep sending it"),
        keep_url,
        _(
            "If we hear nothing within %(days)s days, we stop sending it to this address. "
            "The same button brings you back later."
        )
        % {"days": days},
        unsubscribe_url,
    )


def _words(config: Config) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """gettext in the newsletter's language, and the same with the newsletter's name
    put in for %(name)s (bidi-isolated in a right-to-left language, so a Latin name
    keeps its place in an Arabic or Hebrew sentence)."""
    words = language(config.newsletter.language)
    name = isolated_text(config.newsletter.name, words.direction)

    def _named(message: str) -> str:
        return words.gettext(message) % {"name": name}

    return words.gettext, _named


def build_notice(
    config: Config, notice: Notice, to: str, now: datetime, message_id: str = ""
) -> bytes:
    """The notice as a multipart/alternative message to ``to``; ``message_id`` when it
    must be one digest can recognise when it comes back (a probe)."""
    html, text = render_notice(
        config,
        {
            "subject": notice.subject,
            "heading": notice.heading,
            "paragraphs": notice.paragraphs,
            "button_label": notice.button_label,
            "button_url": notice.button_url,
            "footnote": notice.footnote,
        },
    )
    msg = EmailMessage()
    msg["From"] = config.newsletter.sender
    msg["To"] = formataddr(("", to))
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(now)
    domain = config.sender_address.rpartition("@")[2]
    msg["Message-ID"] = message_id or f"<{notice.kind}.{uuid.uuid4().hex}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # no vacation replies to it, please
    if config.newsletter.reply_to:
        msg["Reply-To"] = config.newsletter.reply_to
    if notice.unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{notice.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return sign_message(config, msg.as_bytes(policy=SMTP))


def queue_notice(
    config: Config,
    db: Database,
    notice: Notice,
    to: str,
    now: datetime,
    *,
    subscriber_id: int | None = None,
    sender: str = "",
    message_id: str = "",
) -> int:
    """Build the notice and queue it; `send_queued` sends it. Its queue id."""
    data = build_notice(config, notice, to, now, message_id)
    return store.queue_email(
        db, notice.kind, to, data, now, subscriber_id=subscriber_id, sender=sender
    )


@dataclass
class QueueRun:
    """What one pass over the queue did."""

    sent: int = 0
    deferred: int = 0  # tried again on a later pass
    failed: int = 0  # refused for good, or out of attempts
    bounced: int = 0  # the relay refused the address: that reader is bounced
    problem: str = ""  # why the pass stopped early (the rest stay queued)


def send_queued(config: Config, db: Database, clock: Clock) -> QueueRun:
    """Send every queued email still to try, over the relay or into the outbox, and
    record each outcome; a refused address bounces its reader."""
    queued = store.queued_emails(db)
    run = QueueRun()
    if not queued:
        return run

    def on_result(job: Job, outcome: Outcome) -> None:
        store.record_email(db, job.delivery_id, outcome.status, outcome.error, clock())
        if outcome.status in (
            DeliveryStatus.SENT,
            DeliveryStatus.DEFERRED,
            DeliveryStatus.FAILED,
            DeliveryStatus.BOUNCED,
        ):
            setattr(run, outcome.status, getattr(run, outcome.status) + 1)
        if outcome.status == DeliveryStatus.BOUNCED and job.subscriber_id:
            store.bounce_subscribers(db, [job.subscriber_id], clock())

    # A later pass retries; one-off emails delivered before show the relay delivers.
    sent_before = store.outgoing_counts(db).get(DeliveryStatus.SENT, 0)
    settings = replace(pool_settings(config, retries=0), delivered_before=sent_before)
    for kind in dict.fromkeys(q.kind for q in queued):
        jobs = [
            Job(q.id, q.subscriber_id, q.recipient, q.message, q.attempts, sender=q.sender)
            for q in queued
            if q.kind == kind
        ]
        outbox = config.outbox_path / "notices" / kind
        try:
            send_messages(config, jobs, on_result, outbox=outbox, settings=settings)
        except DeliveryError as e:  # the relay refuses for now: the rest wait their turn
            run.problem = str(e)
            break
    return run


def queue_status(db: Database) -> dict[str, int]:
    """`status`: queued one-off emails by state (waiting, sent, failed, bounced)."""
    return store.outgoing_counts(db)
