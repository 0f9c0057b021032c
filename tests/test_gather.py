from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.content.gather import build_sections, last_complete_week, week_window
from digest.errors import EditionError
from digest.models import Article, Sponsor


@pytest.mark.parametrize(
    ("label", "tz", "start", "hours"),
    [
        # US DST ends Sunday 2026-11-01: that week is an hour longer.
        ("2026-W44", "America/Vancouver", "2026-10-26T00:00:00-07:00", 169),
        # US DST starts Sunday 2026-03-08: an hour shorter.
        ("2026-W10", "America/New_York", "2026-03-02T00:00:00-05:00", 167),
        # EU DST ends Sunday 2026-10-25.
        ("2026-W43", "Europe/Berlin", "2026-10-19T00:00:00+02:00", 169),
        ("2026-W47", "UTC", "2026-11-16T00:00:00+00:00", 168),
        # ISO week 1 of 2027 starts in 2027; 2026 has 53 weeks and W53 runs over New Year.
        ("2026-W53", "Pacific/Auckland", "2026-12-28T00:00:00+13:00", 168),
        ("2027-W01", "Europe/Berlin", "2027-01-04T00:00:00+01:00", 168),
        # ISO week 1 of 2025 starts on 2024-12-30.
        ("2025-W01", "Asia/Tokyo", "2024-12-30T00:00:00+09:00", 168),
    ],
)
def test_week_windows_across_dst_and_new_year(label: str, tz: str, start: str, hours: int) -> None:
    week = week_window(label, ZoneInfo(tz))
    assert week.start.isoformat() == start
    # Same-tzinfo subtraction ignores offsets in Python: compare real elapsed time.
    assert week.end.astimezone(UTC) - week.start.astimezone(UTC) == timedelta(hours=hours)
    assert week.label == label


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        ("2026-11-25T12:00:00+00:00", "America/Vancouver", "2026-W47"),
        # Monday 06:00 UTC is still Sunday in Vancouver: W48 has not ended there yet.
        ("2026-11-30T06:00:00+00:00", "America/Vancouver", "2026-W47"),
        ("2026-11-30T06:00:00+00:00", "Europe/Berlin", "2026-W48"),
        ("2027-01-02T12:00:00+00:00", "UTC", "2026-W52"),
        ("2027-01-04T00:30:00+00:00", "UTC", "2026-W53"),
    ],
)
def test_last_complete_week_is_in_the_newsletters_timezone(
    now: str, tz: str, expected: str
) -> None:
    assert last_complete_week(datetime.fromisoformat(now), ZoneInfo(tz)).label == expected


@pytest.mark.parametrize("bad", ["2026-47", "2026-W54", "2025-W53", "W47", "2026-w47x"])
def test_bad_week_labels(bad: str) -> None:
    with pytest.raises(EditionError, match=r"--week"):
        week_window(bad, ZoneInfo("UTC"))


def test_sections_rank_limit_and_place_each_article_once(
    make_article: Callable[..., Article],
) -> None:
    t = datetime(2026, 11, 18, tzinfo=UTC)
    articles = [
        make_article(title="old dns", topics=("DNS",), published_at=t),
        make_article(title="new dns", topics=("DNS",), published_at=t + timedelta(hours=1)),
        make_article(title="top score", topics=("DNS", "Cybersecurity"), score=9),
        make_article(title="featured", topics=("Cybersecurity",), featured=True),
        make_article(title="overflow", topics=("DNS", "New TLDs"), published_at=t),
        make_article(title="no topic", topics=()),
        make_article(title="dropped", topics=("DNS",), published_at=t - timedelta(days=1)),
    ]
    sections = build_sections(
        articles,
        max_articles=6,
        max_per_section=3,
        sponsors={"dns": Sponsor("Acme")},
        other_section="More News",
    )
    layout = {s.topic: [a.title for a in s.articles] for s in sections}
    assert layout == {
        "Cybersecurity": ["featured"],
        "DNS": ["top score", "new dns", "old dns"],
        "More News": ["no topic"],
        "New TLDs": ["overflow"],  # DNS was full: its next topic
    }
    # Sections follow the rank of their best article.
    assert [s.topic for s in sections] == ["Cybersecurity", "DNS", "More News", "New TLDs"]
    assert sections[1].sponsor == Sponsor("Acme")
    titles = [a.title for s in sections for a in s.articles]
    assert len(titles) == len(set(titles)) == 6


def test_section_order_from_config(make_article: Callable[..., Article]) -> None:
    articles = [make_article(topics=("DNS",), featured=True), make_article(topics=("New TLDs",))]
    sections = build_sections(
        articles,
        max_articles=5,
        max_per_section=5,
        sponsors={},
        section_order=["New TLDs", "Unknown"],
    )
    assert [s.slug for s in sections] == ["new-tlds", "dns"]
