"""Building an edition: gather the week's articles, write their excerpts, rank them
and choose the all-topics copy. Rendering each copy is `copies`; freezing and sending
are `sending`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.frozen import edition_from_payload
from digest.content.images import meaningful_alt
from digest.content.ingest import canonical_url
from digest.content.notes import week_note
from digest.content.sections import rank_articles, section_plan, sections_of
from digest.content.summarize import Excerpt, summarize
from digest.content.weeks import last_complete_week, week_containing, week_window
from digest.errors import EditionError, RowError
from digest.models import Article, Edition, EditionArticle, Week


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


@dataclass(frozen=True)
class Pick:
    """What `articles feature` or `unfeature` did."""

    week: str
    title: str
    lead: str  # the title that now leads the week's all-topics copy
    unpicked: tuple[str, ...] = ()  # titles no longer picked to lead


def pick_lead(
    config: Config, db: Database, url: str, label: str | None, now: datetime, *, lead: bool
) -> Pick:
    """`articles feature URL` (``lead``) or `unfeature URL`: the editor's choice of the
    week's lead, kept apart from the articles so an import cannot undo it. The week is
    the one named, else the coming edition's (`coming_week`); the article must be one of
    its articles, and its edition not frozen yet."""
    week = coming_week(config, db, label, now)
    article = _week_article(config, db, url, week)
    if store.get_edition(db, week.label) is not None:
        raise EditionError(
            f"The {week.label} edition is frozen already (sent or being sent); its lead "
            "cannot change. Pick the lead of a coming week with --week."
        )
    dropped = store.set_pick(db, week.label, article.url, "feature" if lead else "unfeature", now)
    ranked = _ranked(config, db, week)
    titles = {a.url: a.title for a, _ in ranked}
    return Pick(
        week.label,
        article.title,
        ranked[0][0].title if ranked else "",
        tuple(titles.get(u, u) for u in dropped),
    )


def _week_article(config: Config, db: Database, url: str, week: Week) -> Article:
    """The published article at ``url`` (as given or canonical) in ``week``; EditionError
    naming its week, or how to find the right address."""
    try:
        wanted = {url.strip(), canonical_url(url.strip())}
    except RowError:
        wanted = {url.strip()}
    for article in store.published_articles(db, week.start, week.end):
        if article.url in wanted:
            return article
    published = next(
        (store.published_at_of(db, u) for u in wanted if store.published_at_of(db, u)), None
    )
    if published is not None:
        other = week_containing(published, week.start.tzinfo)  # type: ignore[arg-type]
        raise EditionError(
            f"{url} was published in {other.label}, not {week.label}: give --week {other.label}."
        )
    raise EditionError(
        f"No published article at {url} in {week.label}. `digest articles list --week "
        f"{week.label}` lists them with their addresses."
    )


def list_articles(config: Config, db: Database, week: Week | None) -> list[Article]:
    """`articles list`: every article, newest first, or those ``week`` would gather,
    best first."""
    if week is None:
        return store.all_articles(db)
    return [a for a, _ in _ranked(config, db, week)]


def build_edition(config: Config, db: Database, week: Week) -> Edition | None:
    """Gather the week's articles and write their excerpts; None when there are none.

    The edition keeps every article of the week, best first (its candidates), and the
    all-topics copy chosen from them within the limits.
    """
    ranked = _ranked(config, db, week)
    candidates = tuple(_edition_article(config, a, e, i) for i, (a, e) in enumerate(ranked))
    sections = sections_of(section_plan(config), candidates)
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


def _ranked(config: Config, db: Database, week: Week) -> list[tuple[Article, Excerpt]]:
    """The week's published articles with their excerpts, best first."""
    articles = store.published_articles(db, week.start, week.end)
    excerpts = {
        a.url: _excerpt(a.body, config.digest.excerpt_chars, a.excerpt, a.title) for a in articles
    }
    words = {url: e.words for url, e in excerpts.items()}
    picks = store.week_picks(db, week.label)
    ranked = rank_articles(articles, section_plan(config), words, picks)
    return [(a, excerpts[a.url]) for a in ranked]


def _edition_article(config: Config, a: Article, excerpt: Excerpt, rank: int) -> EditionArticle:
    return EditionArticle(
        a.url,
        a.title,
        excerpt.text,
        a.author,
        a.published_at.astimezone(config.tz),
        a.image_url,
        rank,
        a.topics,
        meaningful_alt(a.image_alt, a.title, a.image_url),
        a.image_width,
        a.image_height,
    )


@lru_cache(maxsize=4096)
def _excerpt(body: str, chars: int, editor_excerpt: str, title: str) -> Excerpt:
    # The desk rebuilds the edition on every reload; an article's excerpt only changes
    # with its text.
    return summarize(body, chars, editor_excerpt=editor_excerpt, title=title)


def edition_for_week(config: Config, db: Database, week: Week) -> Edition | None:
    """The week's edition as frozen, or as it would be built now; None without articles."""
    frozen = store.get_edition(db, week.label)
    if frozen is not None:
        return edition_from_payload(config, frozen.payload)
    return build_edition(config, db, week)
