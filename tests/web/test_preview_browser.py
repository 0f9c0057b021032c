"""The live preview in a real headless Chromium (Debian's package, driven by Playwright)."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from digest import store
from digest.resources import packaged_templates
from digest.web.preview import create_preview_app

from ..conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    NOW,
    make_config,
    needs_chromium,
    running,
)
from ..fixtures import load_week

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    templates = tmp_path / "templates"
    shutil.copytree(packaged_templates(), templates)
    config = make_config(tmp_path, templates={"path": str(templates)})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    db.close()
    with running(create_preview_app(config, clock=lambda: NOW)) as port:
        yield f"http://127.0.0.1:{port}", config


@pytest.mark.parametrize("width", [375, 1200])
def test_every_article_visible_without_horizontal_scroll(
    browser: Browser, preview: tuple[str, Any], width: int
) -> None:
    url, _ = preview
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{url}/email.html?week=2026-W47")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    titles = page.locator(".lead-title, .article-title")  # the lead story and the rest
    assert titles.count() == 12
    for i in range(titles.count()):
        box = titles.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"preview-{width}.png"), full_page=True)
    page.close()


def test_the_desk_reloads_when_a_template_changes(
    browser: Browser, preview: tuple[str, Any]
) -> None:
    url, config = preview
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{url}/?week=2026-W47&subscriber=chen.wei%40example.com")
    frame = page.frame_locator("#html")
    frame.locator(".article-title").first.wait_for()
    assert frame.locator("text=IPv4 Markets").count() == 0  # Chen's variant
    template = Path(config.templates.path) / "digest.html.j2"
    template.write_text(
        template.read_text().replace(
            "Here is what we published", "Freshly edited: here is what we published"
        )
    )
    frame.locator("text=Freshly edited").wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "desk.png"))
    page.close()


def test_a_date_in_an_arabic_edition_reads_in_its_order_beside_a_latin_name(
    browser: Browser, tmp_path: Path
) -> None:
    from datetime import timedelta

    from digest.content.copies import render_copy
    from digest.content.edition import build_edition
    from digest.content.weeks import week_window
    from digest.models import Article

    config = make_config(tmp_path, newsletter={"language": "ar"})
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    for i in range(2):
        store.upsert_article(
            db,
            Article(
                0,
                f"https://news.example.com/ar/{i}",
                f"خبر رقم {i} عن الشبكات",
                week.start + timedelta(days=1, hours=10 + i),
                body="<p>نص الخبر كاملًا هنا، وهو نص طويل بما يكفي ليكون مقتطفًا.</p>",
                author="John Smith",
            ),
            NOW,
        )
    edition = build_edition(config, db, week)
    assert edition is not None
    page = browser.new_page(viewport={"width": 600, "height": 900})
    page.set_content(render_copy(config, edition, "").html)
    # Where each piece of a byline is drawn: the name on the right (the start of a
    # right-to-left line), then the date, whose day, month and year keep CLDR's order
    # (in Arabic the year is drawn leftmost: 2026/11/17 read from the right).
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.article-meta')].map(meta => {
            const [name, date] = meta.querySelectorAll('span');
            const text = date.firstChild, value = text.textContent;
            const at = (start, end) => {
                const r = document.createRange(); r.setStart(text, start); r.setEnd(text, end);
                return r.getBoundingClientRect().left;
            };
            return {name: name.getBoundingClientRect().left,
                    date: date.getBoundingClientRect().left,
                    day: at(0, 2), year: at(value.length - 4, value.length)};
        })"""
    )
    page.close()
    assert drawn
    for byline in drawn:
        assert byline["name"] > byline["date"]  # the name first, from the right
        assert byline["year"] < byline["day"]  # not "172026/11/"
