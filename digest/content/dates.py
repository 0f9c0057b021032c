"""Feed dates written in another language: "Seg, 24 Set 2018 19:42:40 -0300".

RSS asks for RFC 822 dates in English, and feedparser reads those; many CMSes in
Portuguese, Spanish, French, German or Italian write the day and month names in their
own language, and feedparser gives up. This handler rewrites the month name to its
English abbreviation (the names come from CLDR through Babel, never a hand list),
drops the weekday, and parses the rest as RFC 822. Without it such an entry would be
dated the day it was imported and land in the wrong week.
"""

from __future__ import annotations

import time
from email.utils import mktime_tz, parsedate_tz
from functools import lru_cache

import feedparser
from babel import Locale

# Languages whose sites are known to write RFC 822 dates with their own names.
_LANGUAGES = ("pt", "es", "fr", "de", "it", "nl", "ca", "gl", "ro", "sv", "da", "nb", "pl")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS_EN = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=1)
def _month_names() -> dict[str, int]:
    """Every abbreviated and wide month name of those languages -> month number; a name
    two languages give different months is left out."""
    found: dict[str, int] = {}
    clashes: set[str] = set()
    for tag in _LANGUAGES:
        months = Locale.parse(tag).months
        for context in ("format", "stand-alone"):
            for width in ("abbreviated", "wide"):
                for number, name in months[context][width].items():
                    key = name.lower().rstrip(".")
                    if found.setdefault(key, number) != number:
                        clashes.add(key)
    for key in clashes:
        del found[key]
    return found


def parse_localized(text: str) -> time.struct_time | None:
    """A UTC time from an RFC 822 date whose month is in one of those languages; None
    for anything else (English ones included), so feedparser tries its own readers."""
    tokens = text.replace(",", " ").split()
    day = next((i for i, t in enumerate(tokens) if t[:1].isdigit()), None)
    if day is None or day + 1 >= len(tokens):
        return None
    word = tokens[day + 1].lower().rstrip(".")
    english = word.capitalize()[:3] in _MONTHS_EN and word[:3] == word.capitalize()[:3].lower()
    month = _MONTHS_EN.index(word.capitalize()[:3]) + 1 if english else _month_names().get(word)
    weekday = [t.lower().rstrip(".") for t in tokens[:day]]
    if month is None or (english and all(w[:3] in _WEEKDAYS_EN for w in weekday)):
        return None  # all English: feedparser's own reader knows it best
    rest = [tokens[day], _MONTHS_EN[month - 1], *tokens[day + 2 :]]  # the weekday goes
    parsed = parsedate_tz(" ".join(rest))
    return time.gmtime(mktime_tz(parsed)) if parsed else None


_installed = False


def install() -> None:
    """Register the handler with feedparser (once); it runs before feedparser's own."""
    global _installed
    if not _installed:
        feedparser.registerDateHandler(parse_localized)
        _installed = True
