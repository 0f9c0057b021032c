"""The one path from store to inbox, shared by preview, send and the scheduler.

build (gather, summarize, render) -> freeze (edition, variants, ledger) -> deliver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.archive import publish_edition
from digest.config import Config
from digest.delivery import Progress, Shard, deliver_edition, pool_settings
from digest.errors import ConfigError, EditionError
from digest.gather import build_sections, last_complete_week, rank_articles, week_window
from digest.mailer import Job, Outcome, deliver, outbox_factory, smtp_factory
from digest.message import build_message, message_parts, prepare_variant
from digest.models import (
    Edition,
    EditionArticle,
    RenderedVariant,
    Section,
    SendReport,
    Sponsor,
    Subscriber,
    Week,
)
from digest.render import render_variant, variant_sections
from digest.summarize import make_excerpt

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)
# A signing key for outbox-only runs, so the demo works with no setup. Links signed with
# it are not secret; sending over SMTP refuses to start without DIGEST_SECRET.
DEVELOPMENT_SECRET = "digest-development-key-not-secret"


def resolve_week(config: Config, label: str | None, now: datetime) -> Week:
    """The week asked for, or the most recent complete one."""
    if label:
        return week_window(label, config.tz)
    return last_complete_week(now, config.tz)


def build_edition(config: Config, db: Database, week: Week) -> Edition | None:
    """Gather the week's articles and write their excerpts; None when there are none."""
    articles = store.published_articles(db, week.start, week.end)
    gathered = build_sections(
        articles,
        max_articles=config.digest.max_articles,
        max_per_section=config.digest.max_per_section,
        sponsors=config.sponsors,
        section_order=config.digest.section_order,
        other_section=config.digest.other_section,
    )
    if not gathered:
        return None
    rank = {a.url: i for i, a in enumerate(rank_articles(articles))}
    sections = tuple(
        Section(
            g.topic,
            g.slug,
            tuple(_edition_article(config, a, rank[a.url]) for a in g.articles),
            g.sponsor,
        )
        for g in gathered
    )
    return Edition(week=week, subject="", preheader="", sections=sections)


def _edition_article(config: Config, a: Any, rank: int) -> EditionArticle:
    excerpt = make_excerpt(
        a.body, config.digest.excerpt_chars, editor_excerpt=a.excerpt, title=a.title
    )
    return EditionArticle(
        a.url, a.title, excerpt, a.author, a.published_at.astimezone(config.tz), a.image_url, rank
    )


def render_within_budget(config: Config, edition: Edition, key: str) -> RenderedVariant:
    """Render a variant, dropping its lowest-ranked articles while the message is over
    ``[digest] max_message_kb`` (Gmail clips longer ones, hiding the unsubscribe link)."""
    budget = config.digest.max_message_kb * 1024
    left_out: list[str] = []
    current = edition
    while True:
        variant = render_variant(config, current, key, left_out=len(left_out))
        articles = [a for s in variant_sections(current, key) for a in s.articles]
        if len(articles) <= 1 or message_size(config, variant, edition.week.label) <= budget:
            return replace(variant, left_out=tuple(left_out))
        lowest = max(articles, key=lambda a: a.rank)
        left_out.append(lowest.title)
        current = _without(current, lowest.url)


def message_size(config: Config, variant: RenderedVariant, week: str) -> int:
    """Bytes of one subscriber's message of this variant, as it goes on the wire."""
    sample = Subscriber(
        id=10**9,
        email="a-rather-long-address@subscriber.example.org",
        name="A Reader With A Long Name",
    )
    prepared = prepare_variant(config, variant, week, datetime(2000, 1, 1, tzinfo=UTC))
    return len(build_message(config, prepared, sample))


def _without(edition: Edition, url: str) -> Edition:
    sections = tuple(
        replace(s, articles=tuple(a for a in s.articles if a.url != url)) for s in edition.sections
    )
    return replace(edition, sections=tuple(s for s in sections if s.articles))


def render_variants(config: Config, edition: Edition, keys: list[str]) -> list[RenderedVariant]:
    """Render and inline each distinct topic choice once, each within the size budget."""
    return [render_within_budget(config, edition, key) for key in dict.fromkeys(keys)]


# ---------------------------------------------------------------- frozen form


def edition_payload(edition: Edition) -> dict[str, Any]:
    """The edition as JSON-ready data, for freezing."""
    return {
        "week": edition.week.label,
        "sections": [
            {
                "topic": s.topic,
                "slug": s.slug,
                "sponsor": {"name": s.sponsor.name, "url": s.sponsor.url} if s.sponsor else None,
                "articles": [
                    {
                        "url": a.url,
                        "title": a.title,
                        "excerpt": a.excerpt,
                        "author": a.author,
                        "published_at": a.published_at.isoformat(),
                        "rank": a.rank,
                        "image_url": a.image_url,
                    }
                    for a in s.articles
                ],
            }
            for s in edition.sections
        ],
    }


def edition_from_payload(config: Config, payload: dict[str, Any]) -> Edition:
    """Rebuild a frozen edition from its stored payload."""
    week = week_window(payload["week"], config.tz)
    sections = tuple(
        Section(
            s["topic"],
            s["slug"],
            tuple(
                EditionArticle(
                    a["url"],
                    a["title"],
                    a["excerpt"],
                    a["author"],
                    datetime.fromisoformat(a["published_at"]),
                    a["image_url"],
                    a.get("rank", 0),
                )
                for a in s["articles"]
            ),
            Sponsor(**s["sponsor"]) if s["sponsor"] else None,
        )
        for s in payload["sections"]
    )
    return Edition(week=week, subject="", preheader="", sections=sections)


# ---------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    """What one subscriber would receive: the raw message and its two parts."""

    week: str
    message: bytes
    html: str
    text: str
    frozen: bool
    left_out: tuple[str, ...] = ()


def preview_edition(
    config: Config, db: Database, week: Week, subscriber: Subscriber | None, now: datetime
) -> Preview | None:
    """The message ``send`` would send to ``subscriber`` (a sample reader if None)."""
    reader = subscriber or Subscriber(id=0, email="reader@example.com", name="Reader")
    frozen = store.get_edition(db, week.label)
    if frozen is not None:
        variants = store.edition_variants(db, frozen.id)
        variant = variants.get(reader_key(reader)) or render_within_budget(
            config, edition_from_payload(config, frozen.payload), reader_key(reader)
        )
    else:
        edition = build_edition(config, db, week)
        if edition is None:
            return None
        variant = render_within_budget(config, edition, reader_key(reader))
    prepared = prepare_variant(_signing(config), variant, week.label, now)
    raw = build_message(_signing(config), prepared, reader)
    html, text = message_parts(raw)
    return Preview(week.label, raw, html, text, frozen is not None, variant.left_out)


def reader_key(subscriber: Subscriber) -> str:
    """The variant key of a subscriber's topic choice."""
    return store.topics_key(subscriber.topics)


def _signing(config: Config) -> Config:
    """The config with a signing key: DIGEST_SECRET, or the development key for the outbox."""
    if not config.newsletter.postal_address.strip():
        raise ConfigError(
            f"[newsletter] postal_address is empty in {config.path}. Bulk mail must carry the "
            "sender's postal address (CAN-SPAM, CASL); set it before sending or previewing."
        )
    if config.secret:
        return config
    if config.smtp.host:
        raise ConfigError(
            "DIGEST_SECRET is not set. Unsubscribe links are signed with it: set it in the "
            "environment (a long random string, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`) before sending over SMTP."
        )
    return replace(config, secret=DEVELOPMENT_SECRET)


# ---------------------------------------------------------------- send


def send_edition(
    config: Config,
    db: Database,
    week: Week,
    clock: Clock,
    *,
    dry_run: bool = False,
    shard: Shard = (1, 1),
    progress: Progress | None = None,
    allow_empty: bool = False,
) -> SendReport | None:
    """Freeze the week's edition if needed, then deliver every open delivery.

    Returns None when the week has no articles (no edition is made) unless
    ``allow_empty``, which sends a short quiet-week edition instead. A week whose
    deliveries are all final sends nothing and reports ``already_sent``.
    """
    signing = _signing(config)
    frozen = store.get_edition(db, week.label)
    warnings: list[str] = []
    if frozen is None:
        edition = build_edition(signing, db, week)
        if edition is None and allow_empty:
            edition = Edition(week=week, subject="", preheader="", sections=())
        if edition is None:
            return None
        variants = _variants_for_subscribers(signing, db, edition)
        warnings = [left_out_warning(config, v) for v in variants if v.left_out]
        if dry_run:
            return _dry_run_report(db, week, variants, warnings)
        quiet = edition.article_count == 0
        edition_id = _freeze(db, week.label, edition, variants, clock(), skip_empty=not quiet)
        publish_edition(signing, db, edition, clock())  # before the first link is clicked
    else:
        edition_id = frozen.id
    counts = store.delivery_counts(db, edition_id)
    if _open_count(counts) == 0:
        return SendReport(week.label, edition_id, counts, already_sent=True, warnings=warnings)
    if dry_run:
        return SendReport(week.label, edition_id, counts)
    deliver_edition(signing, db, week.label, edition_id, clock, shard, progress)
    counts = store.delivery_counts(db, edition_id)
    if _open_count(counts) == 0:
        store.mark_edition_sent(db, edition_id, clock())
    return SendReport(week.label, edition_id, counts, warnings=warnings)


def left_out_warning(config: Config, variant: RenderedVariant) -> str:
    """What the editor is told when articles were dropped to fit the size budget."""
    copy = f"the {variant.key} copy" if variant.key else "the all-topics copy"
    return (
        f"Left out of {copy} to stay under {config.digest.max_message_kb} KB: "
        + "; ".join(variant.left_out)
        + " (they are in the web version)"
    )


def _freeze(
    db: Database,
    week: str,
    edition: Edition,
    variants: list[RenderedVariant],
    now: datetime,
    skip_empty: bool = True,
) -> int:
    """Freeze, or join the edition another sender (another shard) froze a moment ago."""
    try:
        payload = edition_payload(edition)
        return store.freeze_edition(db, week, payload, variants, now, skip_empty)
    except EditionError:
        frozen = store.get_edition(db, week)
        if frozen is None:
            raise
        return frozen.id


def _open_count(counts: dict[str, int]) -> int:
    return counts.get("pending", 0) + counts.get("deferred", 0)


def _variants_for_subscribers(
    config: Config, db: Database, edition: Edition
) -> list[RenderedVariant]:
    keys = store.active_topic_choices(db)
    if not keys:
        raise EditionError(
            "No active subscribers: nothing to send. Add some with `subscribers add` "
            "or `subscribers import`."
        )
    return render_variants(config, edition, keys)


def _dry_run_report(
    db: Database, week: Week, variants: list[RenderedVariant], warnings: list[str]
) -> SendReport:
    empty = {v.key for v in variants if v.article_count == 0}
    counts = {"pending": 0, "skipped": 0}
    for subscriber in store.iter_subscribers(db, "active"):
        counts["skipped" if reader_key(subscriber) in empty else "pending"] += 1
    return SendReport(week.label, 0, counts, warnings=warnings)


# ---------------------------------------------------------------- test send


@dataclass
class TestSendReport:
    """Who got a test copy, and who did not and why."""

    week: str
    sent: list[str]
    failed: list[tuple[str, str]]


def send_test(
    config: Config, db: Database, week: Week, addresses: list[str], clock: Clock
) -> TestSendReport | None:
    """Send the edition as it stands to ``addresses`` only, subject prefixed [TEST].

    Nothing is frozen and the ledger is not touched: a later real send is unaffected.
    A test address that is a subscriber gets their own topic variant.
    """
    signing = _signing(config)
    frozen = store.get_edition(db, week.label)
    edition = (
        edition_from_payload(config, frozen.payload) if frozen else build_edition(signing, db, week)
    )
    if edition is None:
        return None
    now = clock()
    tag = f"test-{int(now.timestamp())}-"
    prepared: dict[str, Any] = {}
    jobs = []
    for number, address in enumerate(addresses, start=1):
        reader = store.get_subscriber(db, address) or Subscriber(id=0, email=address)
        key = reader_key(reader)
        if key not in prepared:
            variant = render_within_budget(signing, edition, key)
            prepared[key] = prepare_variant(signing, variant, week.label, now, "[TEST] ", tag)
        data = build_message(signing, prepared[key], reader)
        jobs.append(Job(delivery_id=-number, subscriber_id=reader.id, recipient=address, data=data))
    report = TestSendReport(week.label, [], [])

    def on_result(job: Job, outcome: Outcome) -> None:
        if outcome.status == "sent":
            report.sent.append(job.recipient)
        else:
            report.failed.append((job.recipient, outcome.error or outcome.status))

    transport = (
        smtp_factory(signing.relay)
        if signing.smtp.host
        else outbox_factory(signing.outbox_path / week.label / "test")
    )
    asyncio.run(deliver(jobs, transport, pool_settings(signing), on_result))
    return report
