"""Plain data that flows between the stages: no I/O, no imports from the stages."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class SubscriberStatus(StrEnum):
    """Where a reader stands on the list."""

    PENDING = "pending"  # signed up, not confirmed: never mailed an edition
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # the address is gone
    LAPSED = "lapsed"  # no sign of life, no answer to the re-permission email: never mailed


class DeliveryStatus(StrEnum):
    """What became of one message (to a reader, in the ledger or the queue)."""

    PENDING = "pending"  # not tried yet
    SENT = "sent"
    DEFERRED = "deferred"  # 4xx or a lost connection: tried again
    FAILED = "failed"  # refused for a reason of the relay's or the message's
    BOUNCED = "bounced"  # the relay refused the reader's address
    SKIPPED = "skipped"  # the reader left, or has nothing this week


SUBSCRIBER_STATUSES = tuple(SubscriberStatus)
DELIVERY_STATUSES = tuple(DeliveryStatus)
# How the detail of a "bounced" event begins when soft bounces reached [bounces]
# soft_limit: no hard bounce, so the bounce-rate guard does not count it.
SOFT_LIMIT_DETAIL = "soft bounces from "
# Deliveries a resume tries again: never attempted, deferred (4xx, a lost connection), or
# failed for a reason of the relay's or the message's. "bounced" is the reader's address.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.DEFERRED, DeliveryStatus.FAILED)

# Why a subscriber gets no email this week (a delivery's last_error, a dry run's reason).
NOTHING_IN_TOPICS = "nothing this week in the chosen topics"

# Dates outside these years are input errors (a typo, a placeholder such as 0001 or 9999),
# never stored: they would overflow time-zone arithmetic or sort wrongly as text.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999

# The one clock type: stages and use cases get the time from it, never read it themselves.
Clock = Callable[[], datetime]


def slugify(name: str) -> str:
    """A topic name's stable key, distinct for distinct names in any script: its words
    (letters, digits and their marks) in lower case joined by "-", a Latin letter's
    accents dropped: 'Domain Names' -> 'domain-names', 'Économie' -> 'economie',
    'الرياضة' -> 'الرياضة', '経済' -> '経済'. A name with no letter or digit ('+++', an
    emoji) gets a stable hash of itself ('t-' and 10 hex digits); an empty name, "".
    Idempotent: a key is its own key."""
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        return ""
    kept: list[str] = []
    latin = False
    for ch in unicodedata.normalize("NFKD", text.lower()):
        if unicodedata.combining(ch) and latin:
            continue  # é -> e, as the keys have always been
        latin = ch.isascii()
        kept.append(ch if unicodedata.category(ch)[0] in "LNM" else " ")
    words = unicodedata.normalize("NFKC", "".join(kept)).split()
    slug = "-".join(words)
    if slug:
        return slug
    return "t-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def ascii_slug(name: str) -> str:
    """A name as ASCII letters, digits and "-" only (for a header such as List-Id):
    'Domain Names' -> 'domain-names'; "" when nothing of it is ASCII."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


@dataclass(frozen=True)
class Week:
    """One ISO week of the newsletter's timezone, as a half-open [start, end) window."""

    label: str  # "2026-W47"
    start: datetime  # Monday 00:00 local, timezone-aware
    end: datetime  # the next Monday 00:00 local


@dataclass(frozen=True)
class Article:
    """An article as the store holds it."""

    id: int
    url: str
    title: str
    published_at: datetime  # timezone-aware, UTC
    body: str = ""
    excerpt: str = ""  # written by an editor; wins over the summarizer
    author: str = ""
    topics: tuple[str, ...] = ()  # topic names, primary first
    featured: bool = False
    score: float = 0.0
    image_url: str = ""
    status: str = "published"  # or "draft": never gathered
    guid: str = ""  # a feed's id for the entry, to follow a changed link
    image_alt: str = ""  # the image's own description; "" = decorative
    image_width: int = 0  # pixels, when the source says; 0 = unknown
    image_height: int = 0


@dataclass(frozen=True)
class Sponsor:
    """A topic's sponsor line, as sold by the publication."""

    name: str
    url: str = ""
    topic: str = ""  # the section it sponsors, as configured


# The email's content column, in CSS pixels (600 wide, 24 px padding each side).
COLUMN_WIDTH = 552
# An image narrower than this is an icon or an avatar, not a picture of the story.
PICTURE_MIN_WIDTH = 120
# A picture narrower than half the column is never shown across it: it is a thumbnail.
FULL_PICTURE_MIN_WIDTH = COLUMN_WIDTH // 2
# A thumbnail beside an article's text, in CSS pixels.
THUMBNAIL_WIDTH = 120


@dataclass(frozen=True)
class PictureBox:
    """How a picture is drawn: across the column ("full") or small beside the text
    ("thumb"), its width and height attributes (height 0 when not known), and whether
    its own size is known (an unknown one is drawn at its own size up to ``width``)."""

    kind: str  # full, thumb
    width: int
    height: int = 0
    known: bool = True


@dataclass(frozen=True)
class EditionArticle:
    """An article as it stands in a frozen edition: what the reader sees."""

    url: str
    title: str
    excerpt: str
    author: str
    published_at: datetime  # in the newsletter's timezone
    image_url: str = ""
    rank: int = 0  # 0 is the week's best: the last rank goes first when space runs out
    topics: tuple[str, ...] = ()  # topic names, primary first: where the article may go
    image_alt: str = ""
    image_width: int = 0
    image_height: int = 0

    def picture(self, *, full: bool) -> PictureBox | None:
        """How this article's picture is drawn; None when there is nothing to show.

        An image narrower than ``PICTURE_MIN_WIDTH`` is an icon or an avatar: None.
        ``full`` (the lead) draws a picture at least half the column wide across it, at
        its own width when narrower than the column (never stretched); anything else
        is a thumbnail beside the text, ``THUMBNAIL_WIDTH`` wide. The height follows in
        proportion when the source gave it. A picture of unknown size (a file import, a
        host that did not answer) is a thumbnail too: its width attribute keeps
        Outlook's layout (which sizes images by it: a 140 px thumbnail is never drawn
        across the column), and elsewhere it is drawn at its own size up to that width.
        """
        if not self.image_url:
            return None
        own = self.image_width
        if not own:  # it may be a thumbnail: across the column, Outlook would stretch it
            return PictureBox("thumb", THUMBNAIL_WIDTH, 0, False)
        if own < PICTURE_MIN_WIDTH:
            return None
        if full and own >= FULL_PICTURE_MIN_WIDTH:
            kind, width = "full", min(COLUMN_WIDTH, own)
        else:
            kind, width = "thumb", min(THUMBNAIL_WIDTH, own)
        height = round(self.image_height * width / own) if self.image_height else 0
        return PictureBox(kind, width, height)


@dataclass(frozen=True)
class Section:
    """A topic section of an edition."""

    topic: str
    slug: str
    articles: tuple[EditionArticle, ...]
    sponsor: Sponsor | None = None


@dataclass(frozen=True)
class Edition:
    """The content of one week's newsletter, before it is rendered."""

    week: Week
    sections: tuple[Section, ...]  # the all-topics copy, within the limits
    # Every article of the week, best first: a reader of a few topics gets the best of
    # those, chosen from here, not only what made the all-topics copy.
    candidates: tuple[EditionArticle, ...] = ()
    note_html: str = ""  # the editor's note, safe HTML from its Markdown
    note_text: str = ""  # the same note as plain text

    @property
    def article_count(self) -> int:
        """How many articles the edition carries over all sections."""
        return sum(len(s.articles) for s in self.sections)


@dataclass(frozen=True)
class Copy:
    """What one copy of an edition carries: the articles a topic choice gets, the best
    of them as the lead, trimmed to the size budget."""

    key: str  # the topic choice, "" = all topics
    lead: EditionArticle | None
    sections: tuple[Section, ...]  # the articles below the lead
    left_out: tuple[EditionArticle, ...] = ()  # dropped to fit; the web version has them
    # The week's articles this copy could carry (all, or those of its topics): what its
    # limits and the size budget leave out is said in it ("and N more this week").
    in_week: int = 0

    @property
    def articles(self) -> list[EditionArticle]:
        """Every article shown, the lead first."""
        rest = [a for s in self.sections for a in s.articles]
        return [self.lead, *rest] if self.lead else rest

    @property
    def more(self) -> int:
        """How many of the week's articles for this copy it does not show."""
        return max(0, self.in_week - len(self.articles))


@dataclass(frozen=True)
class Subscriber:
    """A reader on the list. ``topics`` are slugs; empty means everything."""

    id: int
    email: str
    name: str = ""
    status: SubscriberStatus = SubscriberStatus.ACTIVE
    topics: tuple[str, ...] = ()


# The per-reader values a rendered body leaves open, filled in for each subscriber.
SLOT_NAMES = ("token", "email", "greeting")


def slot_text(marker: str, name: str) -> str:
    """The placeholder of one per-reader value in a body rendered with ``marker``: a
    random word made at render time, so no text from a feed, an import, a note or the
    configuration can be one (word characters only: escaping, premailer and URL joining
    leave it as it is). Bodies frozen before markers existed used the fixed form."""
    return f"DIGEST{marker}{name.upper()}" if marker else f"__DIGEST_{name.upper()}__"


@dataclass(frozen=True)
class RenderedVariant:
    """One rendered and inlined body, shared by every subscriber with the same topics.

    ``html`` and ``text`` still hold the per-subscriber slots (`slot_text` with
    ``slots``); personalising a copy is a string substitution, not a render.
    """

    key: str  # the topic choice as stored, "" = everything
    subject: str
    html: str
    text: str
    article_count: int
    left_out: tuple[str, ...] = ()  # titles dropped to fit the size budget
    slots: str = ""  # the marker of this render's per-reader slots
    more: int = 0  # the week's articles for this copy that it does not show


@dataclass
class SendReport:
    """What one send run did, with counts by delivery status."""

    week: str
    edition_id: int
    counts: dict[str, int] = field(default_factory=dict)
    already_sent: bool = False
    dry_run: bool = False  # a plan, not a run: nothing is left undone
    warnings: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (email, why), dry runs
    # (status, why, count) of what is left undelivered after the run, commonest first
    undelivered: list[tuple[str, str, int]] = field(default_factory=list)

    def count(self, status: str) -> int:
        """The number of deliveries in ``status``."""
        return self.counts.get(status, 0)

    @property
    def left_open(self) -> int:
        """Messages not delivered yet that a resume would try again."""
        return sum(self.count(s) for s in OPEN_STATUSES)

    @property
    def problem(self) -> str:
        """What the run left undone, for the user and the exit code; "" when nothing."""
        if self.already_sent or self.dry_run:
            return ""
        said = []
        if self.left_open:
            why = "; ".join(
                f"{n} {status}: {error or status}" for status, error, n in self.undelivered
            )
            said.append(
                f"{self.left_open} messages are not delivered yet ({why}); fix that, then "
                "run `digest send --resume`"
            )
        if self.count(DeliveryStatus.BOUNCED):
            said.append(
                f"{self.count('bounced')} addresses were refused by the relay and are off the "
                "list; `digest subscribers list --status bounced` names them"
            )
        return ". ".join(said)


@dataclass
class ImportCounts:
    """What an import did: rows added, updated, unchanged, skipped, and why each skip.

    Article, feed and subscriber imports all report in this shape (``import --json``,
    ``subscribers import --json``); each may add its own fields.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def tally(self, outcome: str) -> None:
        """Count one row's outcome (the name of a counter field)."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    def reject(self, reason: str, value: Any, **where: Any) -> None:
        """Count one skipped row with where it was (``line=`` or ``entry=``) and why."""
        self.skipped += 1
        self.errors.append({**where, "reason": reason, "value": value})

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: every field."""
        return dict(self.__dict__)
