"""The edition as the world's tools judge it: axe-core in headless Chromium (light and
dark, 375 and 1200 px, screenshots kept in test-artifacts/) and SpamAssassin's score."""

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.preview import preview_edition
from digest.models import Article

from ..conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    NOW,
    axe_audit,
    make_config,
    needs_axe,
    needs_chromium,
)
from ..fixtures import load_week

pytestmark = pytest.mark.slow  # a system test: see tests/conftest.py

_IN_CI = bool(os.environ.get("CI"))
SPAMASSASSIN = shutil.which("spamassassin")
needs_spamassassin = pytest.mark.skipif(
    SPAMASSASSIN is None and not _IN_CI,
    reason="needs SpamAssassin: apt-get install spamassassin",
)
TOPICS = ["Cybersecurity", "DNS", "Domain Names", "IPv4 Markets", "Threat Intelligence"]


def _demo(tmp_path: Path) -> tuple[Config, bytes, str]:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    reader = store.get_subscriber(db, "chen.wei@example.com")
    found = preview_edition(config, db, week_window("2026-W47", config.tz), reader, NOW)
    assert found is not None
    return config, found.message, found.html


def _forty(tmp_path: Path, make_article: Callable[..., Article]) -> str:
    from datetime import timedelta

    config = make_config(
        tmp_path, digest={"max_articles": 40, "max_per_section": 40, "max_message_kb": 400}
    )
    db = store.open_store(config.store_path)
    start = week_window("2026-W47", config.tz).start
    for i in range(40):
        store.upsert_article(
            db,
            make_article(
                title=f"Story number {i} about {TOPICS[i % 5]}",
                topics=(TOPICS[i % 5],),
                score=100 - i,
                published_at=start + timedelta(hours=3 * i),
                image_url=f"https://cdn.example.com/{i}.jpg" if i % 4 == 0 else "",
                image_width=1200 if i % 8 == 0 else 0,
                image_height=600 if i % 8 == 0 else 0,
                author="Ann Author",
            ),
            NOW,
        )
    found = preview_edition(config, db, week_window("2026-W47", config.tz), None, NOW)
    assert found is not None and found.html.count('class="article-title"') == 39
    return found.html


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@needs_chromium
@needs_axe
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1200])
def test_axe_finds_nothing_serious_in_the_demo_edition(
    browser: Any, tmp_path: Path, scheme: str, width: int
) -> None:
    _, _, html = _demo(tmp_path)
    serious = axe_audit(browser, html, width, scheme, "edition-demo")
    assert serious == [], [(v["id"], v["help"], len(v["nodes"])) for v in serious]


@needs_chromium
@needs_axe
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_in_a_forty_article_edition(
    browser: Any, tmp_path: Path, make_article: Callable[..., Article], scheme: str
) -> None:
    html = _forty(tmp_path, make_article)
    serious = axe_audit(browser, html, 375, scheme, "edition-forty")
    assert serious == [], [(v["id"], v["help"], len(v["nodes"])) for v in serious]


@needs_spamassassin
def test_spamassassin_scores_the_demo_edition_at_or_below_zero(tmp_path: Path) -> None:
    _, message, _ = _demo(tmp_path)
    done = subprocess.run(
        [SPAMASSASSIN or "spamassassin", "-L", "-t"],  # local tests only: no network
        input=message,
        capture_output=True,
        timeout=300,
        check=False,
    )
    report = done.stdout.decode("utf-8", "replace")
    found = re.search(r"X-Spam-Status: (\w+), score=(-?[\d.]+)", report)
    assert found is not None, done.stderr.decode()[-2000:]
    rules = re.search(r"tests=([^\n]*(?:\n\t[^\n]*)*)", report)
    assert float(found.group(2)) <= 0, rules.group(1) if rules else report[-3000:]
