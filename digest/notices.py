"""One-off emails to one reader: the sign-up confirmation, "you are already subscribed",
and the optional welcome. Rendered from the notice templates (HTML and text), sent at
once over the configured relay or written to the outbox, like the digest itself.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from digest.config import Config
from digest.delivery import pool_settings
from digest.dkimsign import sign_message
from digest.mailer import Job, Outcome, deliver, outbox_factory
from digest.render import render_notice
from digest.smtp import smtp_factory


@dataclass(frozen=True)
class Notice:
    """What a notice says: subject, heading, paragraphs, and one button."""

    kind: str  # confirm, already, welcome
    subject: str
    heading: str
    paragraphs: tuple[str, ...]
    button_label: str = ""
    button_url: str = ""
    footnote: str = ""


def confirm_notice(config: Config, url: str) -> Notice:
    """The double opt-in email: one link that confirms."""
    name = config.newsletter.name
    hours = config.signup.confirm_hours
    return Notice(
        "confirm",
        f"Confirm your subscription to {name}",
        "Please confirm your subscription",
        (
            f"Someone, hopefully you, asked to receive {name} at this address.",
            "To start receiving it, confirm with the button below.",
        ),
        "Confirm my subscription",
        url,
        f"The link works for {hours:g} hours. If you did not ask for this, ignore this "
        "email: you will not be subscribed and will hear nothing more from us.",
    )


def already_notice(config: Config, preferences_url: str) -> Notice:
    """To an address that is subscribed already: nothing changed, here are its topics."""
    name = config.newsletter.name
    return Notice(
        "already",
        f"You are already subscribed to {name}",
        "You are already subscribed",
        (
            f"Someone asked to subscribe this address to {name}, and it already is: "
            "nothing has changed.",
        ),
        "Manage your topics",
        preferences_url,
        "If that was not you, you can ignore this email.",
    )


def welcome_notice(config: Config, preferences_url: str) -> Notice:
    """After a confirmation, when `[signup] welcome` is on."""
    name = config.newsletter.name
    return Notice(
        "welcome",
        f"Welcome to {name}",
        f"Welcome to {name}",
        ("You are subscribed. The next edition comes with the next weekly send.",),
        "Choose your topics",
        preferences_url,
        "Every email has a link to unsubscribe in one click.",
    )


def build_notice(config: Config, notice: Notice, to: str, now: datetime) -> bytes:
    """The notice as a multipart/alternative message to ``to``."""
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
    msg["Message-ID"] = f"<{notice.kind}.{uuid.uuid4().hex}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # no vacation replies to it, please
    if config.newsletter.reply_to:
        msg["Reply-To"] = config.newsletter.reply_to
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return sign_message(config, msg.as_bytes(policy=SMTP))


def send_notice(config: Config, notice: Notice, to: str, now: datetime) -> Outcome:
    """Send one notice at once; the relay's answer (or the outbox write) as an Outcome."""
    data = build_notice(config, notice, to, now)
    outcomes: list[Outcome] = []
    transport = (
        smtp_factory(config.relay)
        if config.smtp.host
        else outbox_factory(config.outbox_path / "notices" / notice.kind)
    )
    # One reader waits on the page: one quick retry, not the batch's backoff.
    settings = replace(pool_settings(config), retries=1, backoff=0.5)
    job = Job(delivery_id=0, subscriber_id=0, recipient=to, data=data)
    asyncio.run(deliver([job], transport, settings, lambda _, o: outcomes.append(o)))
    return outcomes[0] if outcomes else Outcome("deferred", "not attempted")
