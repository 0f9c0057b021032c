"""The week's articles: the window in the newsletter's timezone, ranking and sections."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from digest.errors import WeekError
from digest.models import EARLIEST_YEAR, LATEST_YEAR, Article, Sponsor, Week, slugify

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class Placeable(Protocol):
    """What sectioning needs of an article: its address and its topic names."""

    @property
    def url(self) -> str: ...

    @property
    def topics(self) -> tuple[str, ...]: ...


T = TypeVar("T", bound=Placeable)


@dataclass(frozen=True)
class GatheredSection(Generic[T]):
    """A topic section: its articles, best first."""

    topic: str
    slug: str
    articles: tuple[T, ...]
    sponsor: Sponsor | None = None


def week_window(label: str, tz: ZoneInfo, source: str = "--week") -> Week:
    """The [Monday 00:00, next Monday 00:00) window of ISO week ``label`` in ``tz``.

    ``source`` names where the label came from (``--week``, ``?week=``) in the error.
    """
    match = _WEEK.match(label.strip())
    if not match:
        raise WeekError(f"{source} {label!r}: expected an ISO week like 2026-W47.")
    year, number = int(match.group(1)), int(match.group(2))
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise WeekError(
            f"{source} {label!r}: the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}."
        )
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise WeekError(f"{source} {label!r}: {year} has no ISO week {number}.") from None
    return _week_from_monday(monday, tz)


def week_containing(moment: datetime, tz: ZoneInfo) -> Week:
    """The ISO week, in ``tz``, that ``moment`` falls in."""
    local = moment.astimezone(tz).date()
    return _week_from_monday(local - timedelta(days=local.weekday()), tz)


def last_complete_week(now: datetime, tz: ZoneInfo) -> Week:
    """The most recent week that has fully ended before ``now``, in ``tz``."""
    this_week = week_containing(now, tz)
    return _week_from_monday(this_week.start.date() - timedelta(days=7), tz)


def _week_from_monday(monday: date, tz: ZoneInfo) -> Week:
    iso = monday.isocalendar()
    # Local midnights: a DST change inside the week makes it 167 or 169 hours long.
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return Week(label=f"{iso.year}-W{iso.week:02d}", start=start, end=end)


@dataclass(frozen=True)
class SectionLimits:
    """How an edition's sections are filled: `[digest]` limits, sponsors, order."""

    max_articles: int
    max_per_section: int
    sponsors: Mapping[str, Sponsor]
    section_order: Sequence[str] = ()
    other_section: str = "More News"


def build_sections(
    articles: Sequence[Article],
    *,
    max_articles: int,
    max_per_section: int,
    sponsors: Mapping[str, Sponsor],
    section_order: Sequence[str] = (),
    other_section: str = "More News",
) -> tuple[GatheredSection[Article], ...]:
    """Group articles into topic sections, best first, each once, within the limits.

    An article goes to the first of its topics that still has room; articles are taken
    best first until ``max_articles``. Sections follow ``section_order`` where it names
    them, then the rank of their best article.
    """
    limits = SectionLimits(max_articles, max_per_section, sponsors, section_order, other_section)
    return place_in_sections(rank_articles(articles), limits)


def sections_for_topics(
    ranked: Sequence[T], chosen: set[str], limits: SectionLimits
) -> tuple[GatheredSection[T], ...]:
    """The sections of a reader who chose the topics ``chosen`` (slugs): the best
    articles of those topics within the limits, each in the first chosen topic it has."""
    own = [
        replace(a, topics=tuple(t for t in a.topics if slugify(t) in chosen))  # type: ignore[type-var]
        for a in ranked
        if any(slugify(t) in chosen for t in a.topics)
    ]
    return place_in_sections(own, limits)


def place_in_sections(ranked: Sequence[T], limits: SectionLimits) -> tuple[GatheredSection[T], ...]:
    """Sections of already ranked articles (see `build_sections`)."""
    chosen: dict[str, list[T]] = {}
    names: dict[str, str] = {}
    taken = 0
    seen_urls: set[str] = set()
    for article in ranked:
        if taken >= limits.max_articles:
            break
        if article.url in seen_urls:
            continue
        slot = _free_topic(article, chosen, limits.max_per_section, limits.other_section)
        if slot is None:
            continue
        slug, name = slot
        names.setdefault(slug, name)
        chosen.setdefault(slug, []).append(article)
        seen_urls.add(article.url)
        taken += 1
    order = _section_order(list(chosen), limits.section_order)
    return tuple(
        GatheredSection(names[s], s, tuple(chosen[s]), limits.sponsors.get(s)) for s in order
    )


def rank_articles(articles: Sequence[Article]) -> list[Article]:
    """Featured first, then by score, then newest first."""
    return sorted(
        articles, key=lambda a: (not a.featured, -a.score, -a.published_at.timestamp(), a.id)
    )


def _free_topic(
    article: Placeable, chosen: Mapping[str, list[T]], limit: int, other: str
) -> tuple[str, str] | None:
    for name in article.topics or (other,):
        slug = slugify(name) or slugify(other)
        if len(chosen.get(slug, ())) < limit:
            return slug, name
    return None


def _section_order(slugs: list[str], preferred: Sequence[str]) -> list[str]:
    wanted = [slugify(p) for p in preferred]
    first = [s for s in wanted if s in slugs]
    return first + [s for s in slugs if s not in first]  # dict order = rank order
