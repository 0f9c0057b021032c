"""The edition in its own language: lang and dir, dates, the templates' words, the
plain text wrapped by display width, greetings that fit the name."""

import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from babel.messages.pofile import read_po

from digest import store
from digest.config import Config
from digest.content.copies import render_copy
from digest.content.edition import build_edition
from digest.content.plaintext import display_width, wrap
from digest.content.weeks import week_window
from digest.errors import ConfigError
from digest.language import language, shipped_languages
from digest.mail.message import greeting_for
from digest.models import Article

from .conftest import NOW, REPO, make_config

LOCALE = REPO / "digest" / "locale"
# Besides English: the catalogues that must ship, each complete.
SHIPPED = ("de", "pt", "es", "fr", "it", "nl", "ar", "he", "ja", "zh_Hans")
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def test_every_catalogue_has_every_message_of_the_sources() -> None:
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "messages.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert set(SHIPPED) <= set(shipped_languages())


def test_the_catalogue_check_ignores_the_dated_header_but_not_a_lost_message(
    tmp_path: Path,
) -> None:
    """The header carries the year and day it was written: the check must pass in any
    year, and still fail when a message is missing from a catalogue."""
    pot = LOCALE / "digest.pot"
    text = pot.read_text(encoding="utf-8")
    year = re.search(r"Copyright \(C\) (\d{4})", text)
    assert year is not None
    spec = importlib.util.spec_from_file_location("messages", REPO / "scripts" / "messages.py")
    assert spec is not None and spec.loader is not None
    messages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(messages)
    later = text.replace(year.group(1), str(int(year.group(1)) + 3))
    assert messages._body(later.encode()) == messages._body(text.encode())
    first = text.index("\n\n#:")
    lost = text[:first] + text[text.index("\n\n", first + 2) :]
    assert messages._body(lost.encode()) != messages._body(text.encode())


@pytest.mark.parametrize("po", sorted(LOCALE.glob("*/LC_MESSAGES/digest.po")), ids=str)
def test_every_translation_is_complete_and_keeps_its_placeholders(po: Path) -> None:
    with po.open("rb") as f:
        catalog = read_po(f)
    assert len(catalog) > 40
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert len(strings) == (1 if len(ids) == 1 else catalog.num_plurals), message.id
        wanted = set(_PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert text.strip(), f"{po}: {message.id!r} is not translated"
            assert set(_PLACEHOLDER.findall(text)) == wanted, f"{po}: {text!r}"


def _copy(tmp_path: Path, make_article: Callable[..., Article], tag: str, **article: Any) -> Any:
    config = make_config(tmp_path, newsletter={"language": tag})
    db = store.open_store(config.store_path)
    for i in range(3):
        store.upsert_article(db, make_article(**{"title": f"Story {i}", **article}), NOW)
    edition = build_edition(config, db, week_window("2026-W47", config.tz))
    assert edition is not None
    return config, render_copy(config, edition, "")


def test_a_portuguese_edition_speaks_portuguese(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    _, variant = _copy(tmp_path, make_article, "pt-BR")
    page = lxml.html.document_fromstring(variant.html)
    assert (page.get("lang"), page.get("dir")) == ("pt-BR", "ltr")
    assert "16 – 22 de nov. de 2026" in variant.subject.replace("\u2009", " ")
    assert "Veja o que publicamos na semana de" in variant.html
    assert "Nesta edição" not in variant.html  # one section: no contents list
    assert "18 de nov. de 2026" in variant.text  # the articles' dates
    assert "Destaque" in variant.html and "Cancelar inscrição" in variant.text
    assert "The lead story" not in variant.html and "Unsubscribe" not in variant.text


def test_right_to_left_editions_and_mixed_headlines(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    title = "שרת DNS חדש תומך ב-IPv4 וב-IPv6"
    _, variant = _copy(tmp_path, make_article, "he", title=title)
    page = lxml.html.document_fromstring(variant.html)
    assert (page.get("lang"), page.get("dir")) == ("he", "rtl")
    headings = page.xpath("//h2[@class='lead-title'] | //h3[@class='article-title']")
    assert headings and all(h.get("dir") == "auto" for h in headings)
    assert all(p.get("dir") == "auto" for p in page.find_class("article-excerpt"))
    assert page.find_class("topbar")[0].get("align") == "left"  # the far side in RTL


def test_plain_text_wraps_by_display_width(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    body = "<p>" + "東京都は十七日、新しい防災計画を発表した。" * 6 + "</p>"
    _, variant = _copy(tmp_path, make_article, "ja", body=body, title="新しい防災計画" * 3)
    lines = variant.text.splitlines()
    assert max(display_width(line) for line in lines if "http" not in line) <= 72
    assert any(display_width(line) > 60 for line in lines if "防災" in line)  # filled
    assert "2026/11/18" in variant.text


def test_wrapping_never_breaks_a_url_or_starts_a_line_with_closing_marks() -> None:
    url = "https://example.jp/" + "a" * 90
    assert url in wrap(f"see {url} now", 40).split("\n")
    text = "「誰も取り残さない」ことを目標に掲げている。" * 4
    for line in wrap(text, 20).split("\n")[1:]:
        assert line[0] not in "、。」』）"
    assert wrap("two words", 72) == "two words"


@pytest.mark.parametrize(
    ("name", "greeting"),
    [
        ("Ann Lee", "Hi Ann,"),
        ("Lee, Ann", "Hi Ann,"),
        ("鈴木 一郎", "Hi 鈴木 一郎,"),  # family name first: the whole name
        ("Dr. Ann Lee", "Hi Dr. Ann Lee,"),
        ("", "Hello,"),
    ],
)
def test_greetings_fall_back_to_the_whole_name(config: Config, name: str, greeting: str) -> None:
    assert greeting_for(config, name) == greeting


def test_greetings_in_the_newsletters_language(tmp_path: Path) -> None:
    config = make_config(tmp_path, newsletter={"language": "de"})
    assert greeting_for(config, "Anna Schmidt") == "Hallo Anna,"
    assert greeting_for(config, "") == "Guten Tag,"
    own = make_config(tmp_path, digest={"greeting": "Dear {name},"})
    assert greeting_for(own, "Anna Schmidt") == "Dear Anna Schmidt,"


def test_a_language_without_a_catalogue_gets_english_words_and_its_own_dates() -> None:
    words = language("sv")
    assert words.gettext("In this issue") == "In this issue"
    assert "nov." in words.date(NOW)


def test_an_unknown_language_is_refused_with_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"language.*BCP 47"):
        make_config(tmp_path, newsletter={"language": "klingon-x"})


@pytest.mark.parametrize("tag", ["ar", "he"])
def test_dates_names_and_weeks_are_isolated_in_right_to_left_editions(
    tmp_path: Path, make_article: Callable[..., Article], tag: str
) -> None:
    from digest.content.render import FSI, PDI
    from digest.language import language

    config, variant = _copy(tmp_path, make_article, tag, author="John Smith")
    words = language(tag)
    page = lxml.html.document_fromstring(variant.html)
    metas = page.find_class("article-meta")
    assert metas
    for meta in metas:
        spans = meta.findall("span")
        assert [s.get("dir") for s in spans] == ["ltr", words.direction]  # name, date
        assert spans[0].text == "John Smith"
        assert spans[1].text in {words.date(a.published_at) for a in _week(config)}
    intro = page.find_class("intro-text")[0]
    assert (
        intro.find("span") is not None and intro.find("span").text == variant.subject.split(": ")[1]
    )  # type: ignore[union-attr]
    dated = [line for line in variant.text.splitlines() if "John Smith" in line]
    assert dated and all(line.strip().startswith(f"{FSI}John Smith{PDI} - {FSI}") for line in dated)
    assert all(line.endswith(PDI) for line in dated)


def _week(config: Config) -> list[Article]:
    from digest import store as s

    return s.all_articles(s.open_store(config.store_path))


def test_left_to_right_plain_text_has_no_invisible_isolates(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    from digest.content.render import FSI, text_direction

    _, variant = _copy(tmp_path, make_article, "en", author="محمد علي")
    assert FSI not in variant.text
    meta = lxml.html.document_fromstring(variant.html).find_class("article-meta")[0]
    assert meta.find("span").get("dir") == "rtl"  # type: ignore[union-attr]
    assert text_direction("02\u200f/07\u200f/2021", "ltr") == "rtl"
    assert text_direction("2026", "rtl") == "rtl" and text_direction("IPv6 خدمة", "rtl") == "ltr"


@pytest.mark.parametrize("tag", ["es", "fr", "it", "nl", "ar", "he", "ja", "zh-CN", "zh-Hans"])
def test_each_shipped_language_keeps_no_english_word_of_the_templates(
    tmp_path: Path, make_article: Callable[..., Article], tag: str
) -> None:
    _, variant = _copy(tmp_path, make_article, tag, topics=("Gardening",))
    english = [
        "Here is what we published",
        "Unsubscribe",
        "Choose your topics",
        "View this email in your browser",
        "The lead story",
        "You are receiving",
        "More",
    ]
    for words in english:
        assert words not in variant.text and words not in variant.html, (tag, words)
    assert "This week:" not in variant.html  # the preheader too


def test_traditional_chinese_never_gets_the_simplified_words() -> None:
    from digest.language import language

    assert language("zh-TW").gettext("In this issue") == "In this issue"
    assert language("zh").gettext("In this issue") == language("zh-CN").gettext("In this issue")


def test_a_notice_isolates_the_newsletters_name_in_a_right_to_left_language(
    tmp_path: Path,
) -> None:
    from digest.content.render import FSI, PDI
    from digest.readers.notices import confirm_notice

    arabic = confirm_notice(
        make_config(tmp_path, newsletter={"language": "ar"}), "https://x.example/c"
    )
    assert f"{FSI}The Weekly Wrap{PDI}" in arabic.subject and "أكّد" in arabic.subject
    english = confirm_notice(make_config(tmp_path), "https://x.example/c")
    assert FSI not in english.subject and "The Weekly Wrap" in english.subject
