"""Editions built from the real-world feeds in ../shared/testdata/feeds (a newspaper, a
forum, a Portuguese paper in Latin-1, German and Russian sites, GitHub releases) and from
a hand-made international feed (Japanese, Arabic, Hebrew): each read as an editor
would send it, linted, drawn at a phone's width and audited by axe-core in Chromium.
Screenshots at 375 and 1200 px, light and dark, go to test-artifacts/."""

import collections
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from digest import store
from digest.config import Config
from digest.content.copies import choose_copy, web_version
from digest.content.edition import build_edition
from digest.content.feeds import import_feed
from digest.content.plaintext import display_width
from digest.content.render import templates_dir
from digest.content.weeks import week_containing, week_window
from digest.delivery.preview import Preview, preview_edition
from digest.lint import overflow
from digest.lint.checks import accepted_features
from digest.lint.edition import lint_message
from digest.models import PICTURE_MIN_WIDTH, Edition

from ..conftest import NOW, TESTDATA, make_config, needs_chromium, needs_testdata

pytestmark = pytest.mark.slow  # a system test: see tests/conftest.py

FEEDS = TESTDATA / "feeds"
REAL = sorted(p for p in FEEDS.glob("*") if p.is_file() and not p.name.endswith(".json"))
# The language each site writes in: the edition speaks it.
LANGUAGES = {
    "rss-parser__uolNoticias.rss": "pt-BR",
    "rss-parser__heise.atom": "de",
    "feed-rs__rss_1.0_iso8859.xml": "de",
    "node-feedparser__iconv.xml": "ru",
    "feedparser__large_atom_feed_that_needs_css_sanitisation.xml": "ru",
}
FURNITURE = re.compile(
    r"submitted by|\[\d*\s*comments?\]|\[link\]|continue reading|read more|"
    r"^\W*$|(?:\d{1,2}[:.]\d{2}\s*(?:am|pm)?\s*(?:gmt|utc)?\s*){3}",
    re.I,
)
# Hand-made: a Japanese item (no spaces, wide characters), an Arabic and a Hebrew one
# (right to left, with Latin "IPv4" inside), and a long address that must break.
WORLD_ITEMS = [
    (
        "東京都、新しい防災計画を発表　避難所を倍増へ",
        "ja/1",
        "Tue, 17 Nov 2026 09:00:00 GMT",
        "東京都は十七日、首都直下地震に備えた新しい防災計画を発表した。"
        "計画では避難所の数を倍に増やし、「誰も取り残さない」ことを目標に掲げている。"
        "都の担当者は「来年度から段階的に整備する」と話した。",
    ),
    (
        "وزارة الاتصالات تطلق خدمة IPv6 للمنازل في ثلاث مدن",
        "ar/2",
        "Wed, 18 Nov 2026 10:00:00 GMT",
        "أعلنت وزارة الاتصالات اليوم عن إطلاق خدمة IPv6 للمنازل في ثلاث مدن، "
        "على أن تتوسع الخدمة لتشمل بقية المناطق خلال العام المقبل.",
    ),
    (
        "שרת DNS חדש של האוניברסיטה תומך ב-IPv4 וב-IPv6",
        "he/3",
        "Thu, 19 Nov 2026 11:00:00 GMT",
        "האוניברסיטה הפעילה השבוע שרת DNS חדש התומך ב-IPv4 וב-IPv6, ולדברי צוות "
        "המחשוב הוא מהיר פי שלושה מקודמו. https://world.example.org/he/3/"
        "a-very-long-address-that-must-break-on-a-phone-screen",
    ),
]
INTERNATIONAL = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>World</title>'
    "<link>https://world.example.org/</link>"
    + "".join(
        f"<item><title>{title}</title><link>https://world.example.org/{path}</link>"
        f"<pubDate>{date}</pubDate><description><![CDATA[<p>{body}</p>]]></description></item>"
        for title, path, date, body in WORLD_ITEMS
    )
    + "</channel></rss>"
)


@dataclass
class Built:
    """One real feed's busiest week, built and rendered as `send` would."""

    name: str
    config: Config
    edition: Edition
    preview: Preview


def _build(tmp: Path, source: Path, name: str, **digest: Any) -> Built | None:
    language = LANGUAGES.get(source.name, "en")
    config = make_config(
        tmp, newsletter={"language": language}, digest={"section_order": [], **digest}
    )
    db = store.open_store(config.store_path)
    import_feed(db, config, str(source), NOW)
    articles = store.all_articles(db)
    if not articles:
        return None
    weeks = collections.Counter(week_containing(a.published_at, config.tz).label for a in articles)
    week = week_window(weeks.most_common(1)[0][0], config.tz)
    edition = build_edition(config, db, week)
    found = preview_edition(config, db, week, None, NOW)
    assert edition is not None and found is not None
    return Built(name, config, edition, found)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[Built]:
    """Every real feed's edition, and the hand-made international one."""
    editions = []
    for source in REAL:
        made = _build(tmp_path_factory.mktemp(source.stem[:20]), source, source.stem)
        if made is not None:
            editions.append(made)
    folder = tmp_path_factory.mktemp("international")
    (folder / "world.xml").write_text(INTERNATIONAL, encoding="utf-8")
    made = _build(folder, folder / "world.xml", "international")
    assert made is not None
    return [*editions, made]


@needs_testdata
def test_every_real_feed_makes_an_edition(built: list[Built]) -> None:
    assert len(built) >= 15


@needs_testdata
def test_each_edition_reads_as_an_editor_made_it(built: list[Built]) -> None:
    for b in built:
        copy = choose_copy(b.config, b.edition, "")
        shown = copy.articles
        # Nothing configured: one list under the lead, never a heading per raw category.
        assert {s.topic for s in copy.sections} <= {"More", "Mais", "Weitere Meldungen"}, b.name
        page = lxml.html.document_fromstring(b.preview.html)
        # No section's cap on a sectionless week: the week, up to max_articles, and
        # what is left is named, linking the web version, which has the whole week.
        week = len(b.edition.candidates)
        assert len(shown) == min(week, b.config.digest.max_articles), b.name
        if week > len(shown):
            [more] = page.find_class("more-web")
            assert str(week - len(shown)) in more.text_content(), b.name
            assert more.xpath(".//a[contains(@href, '/archive/')]"), b.name
        web = lxml.html.document_fromstring(web_version(b.config, b.edition))
        linked = {a.get("href") for a in web.iter("a")}
        assert {a.url for a in b.edition.candidates} <= linked, b.name
        if len(shown) > 1:
            assert copy.lead is not None and copy.lead.rank == min(a.rank for a in shown)
            [title] = page.find_class("lead-title")
            assert title.text_content() == copy.lead.title  # it leads the page
        for article in shown:
            assert not (article.excerpt and FURNITURE.search(article.excerpt)), (
                b.name,
                article.excerpt,
            )
        titles = {a.image_url: a.title for a in shown}
        for img in page.iter("img"):
            # Every img has a width (Outlook lays it out by it); none is an icon.
            assert (img.get("width") or "").isdigit(), (b.name, img.get("src"))
            assert int(img.get("width") or 0) >= PICTURE_MIN_WIDTH, (b.name, img.get("src"))
            assert not re.search(r"filetype|/(?:jpe?g|gif|png|pdf)\.gif$", img.get("src") or "")
            # An alt that repeats the headline beside it, or says nothing, is empty.
            alt = (img.get("alt") or "").casefold().strip(" .")
            assert alt != titles.get(img.get("src") or "", "").casefold().strip(" ."), b.name
            assert alt not in {"alt", "image", "photo", "picture", "img"}, b.name
        for line in b.preview.text.splitlines():
            if "://" not in line and "@" not in line:
                assert display_width(line) <= 76, (b.name, line)


@needs_testdata
def test_each_edition_passes_lint(built: list[Built]) -> None:
    for b in built:
        natural = {a.image_url: a.image_width for a in b.edition.candidates if a.image_width}
        findings = lint_message(
            b.preview.message,
            b.config.digest.max_message_kb,
            language=b.config.newsletter.language,
            accepted=accepted_features(templates_dir(b.config)),
            natural=natural,
        )
        # A file import cannot learn a picture's size (`import --feeds` over HTTP reads
        # it from the picture's first bytes): only that may be said, as a warning.
        unsized = [
            f
            for f in findings
            if f.message.startswith(("no width (its size is unknown)", "no height (its size"))
        ]
        assert [f for f in findings if f.level != "note" and f not in unsized] == [], b.name
        assert all(f.level == "warning" for f in unsized)


@needs_testdata
def test_sections_come_only_from_the_configuration(tmp_path: Path, built: list[Built]) -> None:
    for b in built:
        categories = collections.Counter(t for a in b.edition.candidates for t in a.topics[:1])
        wanted = [name for name, _ in categories.most_common(2)]
        if not wanted:
            continue
        source = next((p for p in REAL if p.stem == b.name), None)
        if source is None:
            continue
        again = _build(tmp_path / b.name, source, b.name, section_order=wanted, max_sections=3)
        assert again is not None
        copy = choose_copy(again.config, again.edition, "")
        headings = [s.topic for s in copy.sections]
        assert len(headings) <= 3 and set(headings) <= {*wanted, "More", "Mais"}, b.name


@needs_testdata
def test_the_international_edition_reads_right_to_left_where_it_must(built: list[Built]) -> None:
    world = next(b for b in built if b.name == "international")
    page = lxml.html.document_fromstring(world.preview.html)
    titles = page.xpath("//*[contains(@class, 'lead-title') or contains(@class, 'article-title')]")
    assert len(titles) == 3 and all(t.get("dir") == "auto" for t in titles)
    japanese = [line for line in world.preview.text.splitlines() if "東京都" in line]
    assert japanese and all(display_width(line) <= 76 for line in japanese)
    assert len([line for line in world.preview.text.splitlines() if "防災" in line]) >= 1


@needs_testdata
@needs_chromium
def test_no_real_edition_overflows_a_320px_phone(built: list[Built]) -> None:
    fits = overflow.measure([b.preview.html for b in built], width=320)
    assert fits is not None, "Chromium and Playwright are needed"
    wide = [
        (b.name, f.scroll_width, f.sticking_out)
        for b, f in zip(built, fits, strict=True)
        if f.overflows
    ]
    assert wide == []


@needs_testdata
@needs_chromium
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_in_real_editions(
    built: list[Built], browser: Any, scheme: str
) -> None:
    from ..conftest import AXE, needs_axe

    if not AXE.exists():
        pytest.skip(needs_axe.kwargs["reason"])
    from ..conftest import axe_audit

    chosen = [b for b in built if b.name in SHOWN]
    assert len(chosen) == len(SHOWN)
    for b in chosen:
        for width in (375, 1200):
            serious = axe_audit(browser, b.preview.html, width, scheme, f"feed-{b.name[:24]}")
            assert serious == [], (b.name, [(v["id"], len(v["nodes"])) for v in serious])


# The editions photographed and audited: a forum with raw categories and thumbnails,
# and the international one (right to left, wide characters, a long address).
SHOWN = {"rss-parser__reddit", "international"}


@pytest.fixture(scope="module")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    from ..conftest import CHROMIUM, CHROMIUM_FLAGS

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
