"""The newsletter's weeks: ISO weeks as [Monday 00:00, next Monday 00:00) windows in
its timezone, named like 2026-W47."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.errors import WeekError
from digest.models import EARLIEST_YEAR, LATEST_YEAR, Week

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


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
