from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content.copies import render_copy
from digest.content.edition import build_edition
from digest.content.render import inline_css, templates_dir
from digest.content.weeks import week_window
from digest.errors import RenderError
from digest.models import SLOT_NAMES, Article, slot_text
from digest.resources import packaged_templates

from ..conftest import NOW, REPO, make_config


def _edition(config: Config, db: Any, articles: list[Article]) -> Any:
    for a in articles:
        store.upsert_article(db, a, NOW)
    return build_edition(config, db, week_window("2026-W47", config.tz))


def test_titles_are_escaped_in_html_and_plain_in_text(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    edition = _edition(
        config,
        db,
        [
            make_article(
                title="<script>alert(1)</script> Q&A",
                author="Tom & Jerry",
                body="<p>Body with &lt;tags&gt; &amp; more.</p>",
            )
        ],
    )
    variant = render_copy(config, edition, "")
    assert "<script>alert(1)</script>" not in variant.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Q&amp;A" in variant.html
    assert "Tom &amp; Jerry" in variant.html
    assert "<script>alert(1)</script> Q&A" in variant.text
    assert "Body with <tags> & more." in variant.text


def test_inlining_keeps_media_queries_and_inlines_styles(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    variant = render_copy(config, _edition(config, db, [make_article()]), "")
    assert "@media only screen and (max-width: 620px)" in variant.html
    assert "!important" in variant.html  # strip_important=False
    assert 'class="article-title" dir="auto" style=' in variant.html
    assert variant.html.count("<style") == 1  # kept once, not duplicated as leftovers


def test_relative_links_become_absolute() -> None:
    html = (
        '<html><head></head><body><a href="archive/x.html">x</a>'
        '<img src="/i.png" alt=""></body></html>'
    )
    out = inline_css(html, "https://news.example.com/digest")
    assert 'href="https://news.example.com/digest/archive/x.html"' in out
    assert 'src="https://news.example.com/i.png"' in out


def test_slots_survive_rendering_and_inlining_and_are_new_each_render(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    edition = _edition(config, db, [make_article()])
    variant = render_copy(config, edition, "")
    for name in SLOT_NAMES:
        assert slot_text(variant.slots, name) in variant.html
        assert slot_text(variant.slots, name) in variant.text
    token = slot_text(variant.slots, "token")
    assert f"https://news.example.com/digest/unsubscribe/{token}" in variant.html
    assert render_copy(config, edition, "").slots != variant.slots  # unguessable


def test_topic_variant_shows_only_chosen_sections(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    edition = _edition(
        config,
        db,
        [
            make_article(title="Dns one", topics=("DNS",)),
            make_article(title="Tld one", topics=("New TLDs",)),
        ],
    )
    variant = render_copy(config, edition, "new-tlds")
    assert "Tld one" in variant.html and "Dns one" not in variant.html
    assert variant.article_count == 1
    assert render_copy(config, edition, "ipv4-markets").article_count == 0


def test_sponsor_line_is_shown_for_its_section(
    tmp_path: Path, db: Any, make_article: Callable[..., Article]
) -> None:
    config = make_config(
        tmp_path, sponsors={"DNS": {"name": "Acme DNS", "url": "https://acme.example"}}
    )
    variant = render_copy(config, _edition(config, db, [make_article()]), "")
    assert (
        '<span dir="ltr">DNS</span>, sponsored by' in variant.html
        and 'href="https://acme.example"' in variant.html
    )
    assert "DNS, sponsored by Acme DNS\nhttps://acme.example\n" in variant.text


def test_undefined_variables_fail_loudly(
    tmp_path: Path, db: Any, make_article: Callable[..., Article]
) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    for f in packaged_templates().iterdir():
        (folder / f.name).write_text(f.read_text())
    (folder / "digest.txt.j2").write_text("{{ no_such_thing }}")
    config = make_config(tmp_path, templates={"path": str(folder)})
    with pytest.raises(RenderError, match=r"Template error at .*digest.txt.j2.*no_such_thing"):
        render_copy(config, _edition(config, db, [make_article()]), "")


def test_missing_template_folder_falls_back_to_the_packaged_copy(tmp_path: Path) -> None:
    config = make_config(tmp_path, templates={"path": "nowhere"})
    assert templates_dir(config) == packaged_templates()
    assert replace(config).resolve("nowhere") == (tmp_path / "nowhere").resolve()
    assert packaged_templates() == REPO / "templates" / "email"  # in a source checkout


def test_a_reader_of_one_topic_gets_its_best_stories_even_when_the_cap_cut_them(
    tmp_path: Path, db: Any, make_article: Callable[..., Article]
) -> None:
    from digest.content.frozen import edition_from_payload, edition_payload
    from digest.content.sections import copy_sections, section_plan

    config = make_config(tmp_path, digest={"max_articles": 3, "max_per_section": 3})
    week = week_window("2026-W47", config.tz)
    for i in range(4):  # the week's best four are about DNS
        store.upsert_article(db, make_article(title=f"DNS {i}", topics=("DNS",), score=90 - i), NOW)
    for i in range(5):  # five lower-ranked stories nobody in the all-topics copy sees
        store.upsert_article(
            db, make_article(title=f"IPv4 {i}", topics=("IPv4 Markets", "DNS"), score=10 - i), NOW
        )
    edition = build_edition(config, db, week)
    assert edition is not None
    everything = [a.title for s in edition.sections for a in s.articles]
    assert everything == ["DNS 0", "DNS 1", "DNS 2"]
    frozen = edition_from_payload(config, edition_payload(edition))  # as a resume sees it
    for copy in (edition, frozen):
        ipv4 = copy_sections(section_plan(config), copy, "ipv4-markets")
        assert [a.title for s in ipv4 for a in s.articles] == ["IPv4 0", "IPv4 1", "IPv4 2"]
        assert [s.topic for s in ipv4] == ["IPv4 Markets"]
    variant = render_copy(config, frozen, "ipv4-markets")
    assert variant.article_count == 3 and "Nothing new was published" not in variant.text
