"""The edition's language: its BCP 47 tag, writing direction, dates and the templates'
own words.

`[newsletter] language` names it. Dates and week ranges come from Babel (CLDR data);
the templates' words are gettext messages, translated in the catalogues under
``digest/locale/<language>/LC_MESSAGES/digest.po`` (`make messages` extracts and
merges them). A language without a catalogue gets English words with its own dates.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_interval
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "digest"


@dataclass(frozen=True)
class Language:
    """One language's words, dates and direction."""

    tag: str  # as configured: "pt-BR"
    locale: Locale
    translations: gettext.NullTranslations

    @property
    def direction(self) -> str:
        """ "rtl" for Arabic, Hebrew, Persian, Urdu...; else "ltr"."""
        return str(self.locale.text_direction)

    def gettext(self, message: str) -> str:
        """``message`` in this language (itself where the catalogue lacks it)."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of ``singular``/``plural`` this language uses for ``n``."""
        return self.translations.ngettext(singular, plural, n)

    def date(self, moment: dt.datetime | dt.date) -> str:
        """An article's date as this language writes it: "Nov 17, 2026", "17.11.2026"."""
        return str(format_date(moment, "medium", locale=self.locale))

    def week_range(self, first: dt.date, last: dt.date) -> str:
        """A week as this language writes a range of days: "Nov 16 – 22, 2026",
        "16–22 de nov. de 2026", "2026年11月16日～22日"."""
        return str(format_interval(first, last, "yMMMd", locale=self.locale))


def parse_tag(tag: str) -> Locale:
    """The Babel locale of a BCP 47 tag ("en", "pt-BR", "zh-Hant-TW"); ValueError when
    CLDR does not know it."""
    try:
        return Locale.parse(tag.strip().replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError) as e:
        raise ValueError(f"unknown language tag {tag!r}") from e


def is_language_tag(tag: str) -> bool:
    """True for a BCP 47 tag CLDR knows."""
    try:
        parse_tag(tag)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=16)
def language(tag: str) -> Language:
    """The Language of ``tag``: its locale and the closest catalogue (pt_BR, then pt)."""
    locale = parse_tag(tag)
    return Language(tag, locale, _translations(locale))


def shipped_languages() -> list[str]:
    """The languages with a catalogue, besides English."""
    folder = resources.files("digest").joinpath("locale")
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and entry.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file()
    )


def _translations(locale: Locale) -> gettext.NullTranslations:
    """The closest catalogue: the whole tag (pt_BR), its language and script (zh_Hans,
    the script CLDR's likely subtags give when the tag names none: zh, zh-CN), then
    the language (pt). A language written in two scripts ships one catalogue per
    script, so zh-TW (Traditional) never gets the Simplified words."""
    script = locale.script or _likely_script(locale.language)
    names = [str(locale)]
    if script:
        names.append(f"{locale.language}_{script}")
    names.append(locale.language)
    folder = resources.files("digest").joinpath("locale")
    for name in names:
        po = folder.joinpath(name, "LC_MESSAGES", f"{DOMAIN}.po")
        if po.is_file():
            return _compiled(po.read_bytes(), name)
    return gettext.NullTranslations()


def _likely_script(language: str) -> str:
    """The script CLDR expects for ``language`` ("Hans" for zh), else ""."""
    likely = str(get_global("likely_subtags").get(language, ""))
    parts = likely.split("_")
    return parts[1] if len(parts) > 2 else ""


def _compiled(po: bytes, name: str) -> gettext.GNUTranslations:
    """A catalogue read from its .po text and compiled in memory (no .mo files to keep
    in step with their sources)."""
    catalog = read_po(io.BytesIO(po), locale=name, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)
