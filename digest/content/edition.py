"""Building an edition: gather the week's articles, write excerpts, render each variant
within the size budget. No freezing, no sending: `sending` does those.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.frozen import edition_from_payload
from digest.content.gather import (
    last_complete_week,
    rank_articles,
    week_containing,
    week_window,
)
from digest.content.notes import week_note
from digest.content.render import render_variant, select_sections, variant_sections
from digest.content.summarize import make_excerpt
from digest.delivery.message import build_message, html_part_size, prepare_variant
from digest.errors import EditionError
from digest.models import (
    Article,
    Edition,
    EditionArticle,
    RenderedVariant,
    Subscriber,
    Week,
)


def resolve_week(config: Config, label: str | None, now: datetime, source: str = "--week") -> Week:
    """The week asked for, or the most recent complete one; ``source`` names the input
    (``--week``, ``?week=``) in the error for a malformed label."""
    if label:
        return week_window(label, config.tz, source)
    return last_complete_week(now, config.tz)


def coming_week(config: Config, db: Database, label: str | None, now: datetime) -> Week:
    """The week whose edition goes out next (for `note`): the one named, else the most
    recent complete week while it is not frozen, else the week now running."""
    if label:
        return resolve_week(config, label, now)
    last = last_complete_week(now, config.tz)
    if store.get_edition(db, last.label) is None:
        return last
    return week_containing(now, config.tz)


def empty_week(config: Config, db: Database, week: Week) -> str:
    """What to tell someone who asked for a week without articles, and where to look."""
    newest = store.newest_published_before(db, week.end)
    hint = (
        f" The newest week with articles is {week_containing(newest, config.tz).label}: "
        f"give --week {week_containing(newest, config.tz).label}."
        if newest
        else " Import some first: `digest import FILE` or `digest import --feeds`."
    )
    return f"No published articles in {week.label}, so there is no edition.{hint}"


def list_articles(config: Config, db: Database, week: Week | None) -> list[Article]:
    """`articles list`: every article, or those ``week`` would gather, best first."""
    if week is None:
        return store.all_articles(db)
    return store.published_articles(db, week.start, week.end)


def build_edition(config: Config, db: Database, week: Week) -> Edition | None:
    """Gather the week's articles and write their excerpts; None when there are none.

    The edition keeps every article of the week, best first (its candidates), and the
    all-topics copy chosen from them within the limits.
    """
    ranked = rank_articles(store.published_articles(db, week.start, week.end))
    candidates = tuple(_edition_article(config, a, i) for i, a in enumerate(ranked))
    sections = select_sections(config, candidates)
    if not sections:
        return None
    note_html, note_text = week_note(db, week.label)
    return Edition(
        week=week,
        sections=sections,
        candidates=candidates,
        note_html=note_html,
        note_text=note_text,
    )


def _edition_article(config: Config, a: Article, rank: int) -> EditionArticle:
    excerpt = _excerpt(a.body, config.digest.excerpt_chars, a.excerpt, a.title)
    return EditionArticle(
        a.url,
        a.title,
        excerpt,
        a.author,
        a.published_at.astimezone(config.tz),
        a.image_url,
        rank,
        a.topics,
        a.image_alt,
        a.image_width,
        a.image_height,
    )


@lru_cache(maxsize=4096)
def _excerpt(body: str, chars: int, editor_excerpt: str, title: str) -> str:
    # The desk rebuilds the edition on every reload; an article's excerpt only changes
    # with its text.
    return make_excerpt(body, chars, editor_excerpt=editor_excerpt, title=title)


def render_within_budget(config: Config, edition: Edition, key: str) -> RenderedVariant:
    """Render a variant, dropping its lowest-ranked articles while the message is over
    ``[digest] max_message_kb`` of HTML as sent (Gmail clips longer ones, hiding the
    unsubscribe link; see `message.html_part_size`)."""
    budget = config.digest.max_message_kb * 1024
    left_out: list[str] = []
    current = edition
    while True:
        variant = render_variant(config, current, key, left_out=len(left_out))
        articles = [a for s in variant_sections(config, current, key) for a in s.articles]
        if len(articles) <= 1 or html_size(config, variant, edition.week.label) <= budget:
            return replace(variant, left_out=tuple(left_out))
        lowest = max(articles, key=lambda a: a.rank)
        left_out.append(lowest.title)
        current = _without(current, lowest.url)


def html_size(config: Config, variant: RenderedVariant, week: str) -> int:
    """Bytes of the HTML part of one subscriber's message of this variant, as sent."""
    sample = Subscriber(
        id=10**9,
        email="a-rather-long-address@subscriber.example.org",
        name="A Reader With A Long Name",
    )
    prepared = prepare_variant(config, variant, week, datetime(2000, 1, 1, tzinfo=UTC))
    return html_part_size(build_message(config, prepared, sample))


def _without(edition: Edition, url: str) -> Edition:
    sections = tuple(
        replace(s, articles=tuple(a for a in s.articles if a.url != url)) for s in edition.sections
    )
    candidates = tuple(a for a in edition.candidates if a.url != url)
    return replace(
        edition, sections=tuple(s for s in sections if s.articles), candidates=candidates
    )


def render_variants(config: Config, edition: Edition, keys: list[str]) -> list[RenderedVariant]:
    """Render and inline each distinct topic choice once, each within the size budget."""
    return [render_within_budget(config, edition, key) for key in dict.fromkeys(keys)]


def edition_for_week(config: Config, db: Database, week: Week) -> Edition | None:
    """The week's edition as frozen, or as it would be built now; None without articles."""
    frozen = store.get_edition(db, week.label)
    if frozen is not None:
        return edition_from_payload(config, frozen.payload)
    return build_edition(config, db, week)


def variants_for_subscribers(
    config: Config, db: Database, edition: Edition
) -> list[RenderedVariant]:
    """One rendered variant per distinct topic choice of the active subscribers."""
    keys = store.active_topic_choices(db)
    if not keys:
        raise EditionError(
            "No active subscribers: nothing to send. Add some with `subscribers add` "
            "or `subscribers import`."
        )
    return render_variants(config, edition, keys)


def reader_key(subscriber: Subscriber) -> str:
    """The variant key of a subscriber's topic choice."""
    return store.topics_key(subscriber.topics)


def left_out_warning(config: Config, variant: RenderedVariant) -> str:
    """What the editor is told when articles were dropped to fit the size budget."""
    copy = f"the {variant.key} copy" if variant.key else "the all-topics copy"
    return (
        f"Left out of {copy} to stay under {config.digest.max_message_kb} KB: "
        + "; ".join(variant.left_out)
        + " (they are in the web version)"
    )
