"""Which articles a copy of the edition carries, in what order and under which heading.

- **Ranking** (`rank_articles`): an editor's pick first (`digest articles feature`),
  then the publication's own score where its import gave one, then substance (the
  article's own prose, an image that is a picture, the weight of its section), and
  only then the newest. The best article leads the copy.
- **Sections** (`place`): only configured sections head a section (`[digest]
  section_order`, the topics of the `[topics]` map, sponsored topics). An article goes
  under the first of its categories that is one of them and has room; every other
  article goes under one "More" section; a copy shows at most `[digest] max_sections`.
  "More" has a section's room (`max_per_section`) beside configured sections; alone
  (nothing configured, or no article of the week in a configured section) it is the
  whole copy, up to `max_articles`.
- **Whole week** (`whole_week`): every article of the week in its section, no limit:
  the web version, which carries what a copy's limits left out.
- **Copies** (`copy_sections`, `split_lead`): the all-topics copy, or the best articles
  of a reader's chosen topics, picked from the whole week.
- **Trimming** (`trim_order`): when a copy is over the size budget, the lowest-ranked
  article of the fullest section goes first, so every section keeps its best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

from digest.config import Config
from digest.language import language
from digest.models import (
    FULL_PICTURE_MIN_WIDTH,
    PICTURE_MIN_WIDTH,
    Article,
    Edition,
    EditionArticle,
    Section,
    Sponsor,
    ascii_slug,
    slugify,
)


class Placeable(Protocol):
    """What sectioning needs of an article: its address and its category names."""

    @property
    def url(self) -> str: ...

    @property
    def topics(self) -> tuple[str, ...]: ...


T = TypeVar("T", bound=Placeable)


@dataclass(frozen=True)
class GatheredSection(Generic[T]):
    """A section: its heading, its key and its articles, best first."""

    topic: str
    slug: str
    articles: tuple[T, ...]
    sponsor: Sponsor | None = None


@dataclass(frozen=True)
class SectionPlan:
    """How a copy's sections are filled: the configured sections and the limits."""

    named: tuple[tuple[str, str], ...]  # (slug, name) of each configured section, in order
    aliases: Mapping[str, str]  # a feed's category, lower case -> a section's name
    other: str  # the heading of every article in no configured section
    max_articles: int = 12
    max_per_section: int = 4
    max_sections: int = 6
    sponsors: Mapping[str, Sponsor] = field(default_factory=dict)

    @property
    def other_slug(self) -> str:
        """The key of the "More" section."""
        return slugify(self.other) or "more"

    def homes(self, categories: Sequence[str]) -> list[str]:
        """The configured sections among an article's categories, in its own order."""
        slugs = {slug for slug, _ in self.named}
        found: list[str] = []
        for category in categories:
            name = self.aliases.get(category.strip().lower(), category)
            slug = slugify(name)
            if slug in slugs and slug not in found:
                found.append(slug)
        return found

    def chosen(self, key: str) -> set[str]:
        """The section keys of a stored topic choice ("a,b"). A key stored before keys
        kept every script (the ASCII-only form, "strae" for "Straße") still finds its
        section: the store's migration re-keys the topics it knows, this the rest."""
        current = {slug for slug, _ in self.named}
        legacy = {
            ascii_slug(name): slug
            for slug, name in self.named
            if ascii_slug(name) and ascii_slug(name) != slug and ascii_slug(name) not in current
        }
        return {legacy.get(k, k) for k in key.split(",") if k}

    def name_of(self, slug: str) -> str:
        """A section's heading."""
        return dict(self.named).get(slug, self.other)

    def weight(self, categories: Sequence[str]) -> float:
        """1.0 for the first configured section down towards 0.5 for the last; 0 for an
        article in none (it goes under "More")."""
        homes = self.homes(categories)
        if not homes:
            return 0.0
        index = [slug for slug, _ in self.named].index(homes[0])
        return 1.0 - 0.5 * index / max(1, len(self.named) - 1)


def section_plan(config: Config) -> SectionPlan:
    """The plan the configuration describes: `[digest]` limits, section order and the
    "More" heading, the `[topics]` map and `[sponsors]`."""
    names = [
        *config.digest.section_order,
        *config.topic_aliases.values(),
        *(s.topic for s in config.sponsors.values() if s.topic),
    ]
    named: dict[str, str] = {}
    for name in names:
        if slugify(name):
            named.setdefault(slugify(name), name)
    other = config.digest.other_section or language(config.newsletter.language).gettext("More")
    return SectionPlan(
        named=tuple(named.items()),
        aliases=config.topic_aliases,
        other=other,
        max_articles=config.digest.max_articles,
        max_per_section=config.digest.max_per_section,
        max_sections=config.digest.max_sections,
        sponsors=config.sponsors,
    )


def topic_choices(config: Config) -> list[tuple[str, str]]:
    """(slug, name) of the topics a reader may choose: the configured sections."""
    return list(section_plan(config).named)


# ---------------------------------------------------------------- ranking

# Prose past this many words adds nothing: a long read is not better than a full story.
_FULL_STORY_WORDS = 600
_PARAGRAPH_WORDS = 40


def substance(article: Article, prose_words: int, plan: SectionPlan) -> float:
    """How much an article offers a reader, 0 to 1: 0.4 its own prose (growing with the
    log of its words up to a full story), 0.35 a picture (a lead without one is a wall
    of text; a picture with nothing to read is not a story, so it counts in full from
    a paragraph's worth of prose; a thumbnail, narrower than half the column, counts
    half), 0.25 the weight of its section. Recency plays no
    part."""
    length = min(1.0, math.log1p(prose_words) / math.log1p(_FULL_STORY_WORDS))
    shown = is_picture(article.image_url, article.image_width)
    # A thumbnail (narrower than half the column) is never drawn across it: half a picture.
    small = 0 < article.image_width < FULL_PICTURE_MIN_WIDTH
    picture = min(1.0, prose_words / _PARAGRAPH_WORDS) * (0.5 if small else 1.0) if shown else 0.0
    return 0.4 * length + 0.35 * picture + 0.25 * plan.weight(article.topics)


def is_picture(url: str, width: int) -> bool:
    """True for an image worth showing: any size unknown, or at least a thumbnail's."""
    return bool(url) and (width == 0 or width >= PICTURE_MIN_WIDTH)


def rank_articles(
    articles: Sequence[Article],
    plan: SectionPlan,
    prose_words: Mapping[str, int],
    picks: Mapping[str, str] | None = None,
) -> list[Article]:
    """The week's articles, best first: the editor's pick (``picks``: url -> "feature"
    or "unfeature", from `articles feature`), then articles featured by their import
    (unless unfeatured), the publication's own score, `substance` (``prose_words`` by
    URL), then the newest."""
    chosen = picks or {}

    def key(a: Article) -> tuple[bool, bool, float, float, float, int]:
        pick = chosen.get(a.url, "")
        featured = pick == "feature" or (a.featured and pick != "unfeature")
        worth = round(substance(a, prose_words.get(a.url, 0), plan), 6)
        return (
            pick != "feature",
            not featured,
            -a.score,
            -worth,
            -a.published_at.timestamp(),
            a.id,
        )

    return sorted(articles, key=key)


# ---------------------------------------------------------------- sections


def place(
    ranked: Sequence[T], plan: SectionPlan, chosen: set[str] | None = None
) -> tuple[GatheredSection[T], ...]:
    """Sections of already ranked articles, within the plan's limits.

    Over `max_sections`, the section whose best article ranks lowest is closed (its
    articles go under "More") until the rest fit. With ``chosen`` (a reader's topic
    slugs) only articles of those sections are taken, and "More" is left out.
    """
    closed: set[str] = set()
    while True:
        placed = _fill(ranked, plan, chosen, closed)
        named = [s for s in placed if s != plan.other_slug]
        if len(placed) <= plan.max_sections or not named:
            break
        closed.add(named[-1])  # dict order is the rank order of each section's best
    order = [slug for slug, _ in plan.named if slug in placed and slug != plan.other_slug]
    if plan.other_slug in placed:
        order.append(plan.other_slug)
    return tuple(
        GatheredSection(plan.name_of(s), s, tuple(placed[s]), plan.sponsors.get(s)) for s in order
    )


def _fill(
    ranked: Sequence[T], plan: SectionPlan, chosen: set[str] | None, closed: set[str]
) -> dict[str, list[T]]:
    """Each article, best first, in the first of its open sections with room; one in
    no open section under "More" (all-topics copies only); each article once."""
    placed: dict[str, list[T]] = {}
    seen: set[str] = set()
    alone = chosen is None and not any(
        h not in closed for a in ranked for h in plan.homes(a.topics)
    )
    other_room = plan.max_articles if alone else plan.max_per_section
    for article in ranked:
        if len(seen) >= plan.max_articles:
            break
        if article.url in seen:
            continue
        homes = plan.homes(article.topics)
        if chosen is not None:
            homes = [h for h in homes if h in chosen]
            if not homes:
                continue
        open_homes = [h for h in homes if h not in closed]
        room = [h for h in open_homes if len(placed.get(h, ())) < plan.max_per_section]
        if room:
            slot = room[0]
        elif open_homes or chosen is not None:
            continue  # its sections are full: the best of them are in already
        else:
            slot = plan.other_slug
            if len(placed.get(slot, ())) >= other_room:
                continue
        placed.setdefault(slot, []).append(article)
        seen.add(article.url)
    return placed


def sections_of(plan: SectionPlan, ranked: Sequence[EditionArticle]) -> tuple[Section, ...]:
    """The all-topics copy's sections of the week's ranked articles."""
    return tuple(Section(g.topic, g.slug, g.articles, g.sponsor) for g in place(ranked, plan))


def whole_week(plan: SectionPlan, edition: Edition) -> tuple[Section, ...]:
    """Every article of the week in its section, without the copies' limits (the web
    version); an edition frozen before candidates were kept has only its copy's."""
    if not edition.candidates:
        return edition.sections
    room = len(edition.candidates) + 1
    unlimited = replace(plan, max_articles=room, max_per_section=room, max_sections=room)
    return sections_of(unlimited, edition.candidates)


def in_scope(plan: SectionPlan, edition: Edition, key: str) -> int:
    """How many of the week's articles a copy for ``key`` could carry: all of them for
    the all-topics copy, else those with a home in a chosen topic."""
    if not key or not edition.candidates:
        return max(len(edition.candidates), edition.article_count)
    chosen = plan.chosen(key)
    return sum(1 for a in edition.candidates if chosen & set(plan.homes(a.topics)))


def copy_sections(plan: SectionPlan, edition: Edition, key: str) -> tuple[Section, ...]:
    """The sections a topic choice gets: the all-topics copy for an empty choice, else
    the best articles of the chosen topics within the limits, picked from every article
    of the week (so a reader of one topic is not left with what the all-topics copy
    had room for)."""
    if not key:
        return edition.sections
    chosen = plan.chosen(key)
    if not edition.candidates:  # frozen before candidates were kept
        return tuple(s for s in edition.sections if s.slug in chosen)
    gathered = place(edition.candidates, plan, chosen)
    return tuple(Section(g.topic, g.slug, g.articles, g.sponsor) for g in gathered)


def split_lead(
    sections: tuple[Section, ...],
) -> tuple[EditionArticle | None, tuple[Section, ...]]:
    """The copy's best article, and the sections without it (it is not shown twice).
    A copy of one article has no lead: it is simply the list."""
    articles = [a for s in sections for a in s.articles]
    if len(articles) <= 1:
        return None, sections
    lead = min(articles, key=lambda a: a.rank)
    rest = (
        replace(s, articles=tuple(a for a in s.articles if a.url != lead.url)) for s in sections
    )
    return lead, tuple(s for s in rest if s.articles)


def trim_order(sections: tuple[Section, ...], keep: str = "") -> list[EditionArticle]:
    """The order articles leave a copy that is over its size budget: each time the
    lowest-ranked article of the section with the most articles (of two as full, the
    one whose last is ranked lower), so each section keeps its best longest. ``keep``
    (the lead's URL) never leaves."""
    left = {
        s.slug: sorted((a for a in s.articles if a.url != keep), key=lambda a: a.rank)
        for s in sections
    }
    order: list[EditionArticle] = []
    while any(left.values()):
        slug = max((s for s in left if left[s]), key=lambda s: (len(left[s]), left[s][-1].rank))
        order.append(left[slug].pop())
    return order


def without(sections: tuple[Section, ...], urls: set[str]) -> tuple[Section, ...]:
    """The sections without the articles at ``urls``; sections left empty go."""
    kept = (
        replace(s, articles=tuple(a for a in s.articles if a.url not in urls)) for s in sections
    )
    return tuple(s for s in kept if s.articles)
