"""The preview: any reader's copy of the coming edition exactly as `send` would
build it, and every copy `lint` checks; nothing is frozen or sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.copies import (
    reader_key,
    render_within_budget,
)
from digest.content.edition import edition_for_week
from digest.delivery.sending import signing_config
from digest.errors import SubscriberError
from digest.mail.message import build_message, message_parts, prepare_variant
from digest.models import (
    Edition,
    RenderedVariant,
    Subscriber,
    Week,
)


@dataclass(frozen=True)
class Preview:
    """What one subscriber would receive: the raw message and its two parts."""

    week: str
    message: bytes
    html: str
    text: str
    frozen: bool
    left_out: tuple[str, ...] = ()
    key: str = ""  # the copy's topic choice, "" = all topics


def preview_edition(
    config: Config, db: Database, week: Week, subscriber: Subscriber | None, now: datetime
) -> Preview | None:
    """The message ``send`` would send to ``subscriber`` (a sample reader if None)."""
    config = signing_config(config)  # one config from here on: the one that signs
    reader = subscriber or _sample_reader("")
    frozen = store.get_edition(db, week.label)
    stored = store.edition_variants(db, frozen.id) if frozen else {}
    variant = stored.get(reader_key(reader))
    if variant is None:
        edition = edition_for_week(config, db, week)
        if edition is None:
            return None
        variant = render_within_budget(config, edition, reader_key(reader))
    return _preview(config, variant, week, reader, now, frozen is not None)


def preview_variants(
    config: Config, db: Database, edition: Edition, week: Week, now: datetime
) -> list[Preview]:
    """One sample message per copy ``week``'s ``edition`` would send: the all-topics copy
    and each distinct topic choice of the active subscribers (frozen ones as frozen)."""
    config = signing_config(config)  # one config from here on: the one that signs
    keys = list(dict.fromkeys(["", *store.active_topic_choices(db)]))
    frozen = store.get_edition(db, week.label)
    stored = store.edition_variants(db, frozen.id) if frozen else {}
    return [
        _preview(
            config,
            stored.get(key) or render_within_budget(config, edition, key),
            week,
            _sample_reader(key),
            now,
            frozen is not None,
        )
        for key in keys
    ]


def _sample_reader(key: str) -> Subscriber:
    return Subscriber(
        id=0,
        email="reader@example.com",
        name="Reader",
        topics=tuple(t for t in key.split(",") if t),
    )


def _preview(
    config: Config,
    variant: RenderedVariant,
    week: Week,
    reader: Subscriber,
    now: datetime,
    frozen: bool,
) -> Preview:
    raw = build_message(config, prepare_variant(config, variant, week.label, now), reader)
    html, text = message_parts(raw)
    return Preview(week.label, raw, html, text, frozen, variant.left_out, variant.key)


def preview_for(
    config: Config, db: Database, week: Week, email: str | None, now: datetime
) -> Preview | None:
    """`preview [--subscriber EMAIL]`: that subscriber's copy, or a sample reader's."""
    reader = store.get_subscriber(db, email) if email else None
    if email and reader is None:
        raise SubscriberError(f"{email} is not on the list.")
    return preview_edition(config, db, week, reader, now)
