"""The newsletter's weeks: ISO weeks in its timezone, across DST and New Year."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.content.weeks import last_complete_week, week_window
from digest.errors import EditionError


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
