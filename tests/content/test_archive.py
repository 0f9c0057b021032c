"""The archive: the "view in browser" page, the index and the Atom feed, served."""

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.models import Article
from digest.web.app import create_app

from ..conftest import NOW, REPO
from ..fixtures import load_week

ATOM = "{http://www.w3.org/2005/Atom}"


def _sent(config: Config) -> None:
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)


def test_freezing_publishes_the_web_version_index_and_feed(config: Config) -> None:
    _sent(config)
    page = (config.archive_path / "2026-W47.html").read_text()
    assert "Ransomware Crews Shift to Data Theft" in page and "IPv4 Markets" in page
    assert "__DIGEST_" not in page and "/unsubscribe/" not in page and "@example" not in page
    assert 'This is the web version of <span dir="ltr">The Weekly Wrap</span>' in page
    index = (config.archive_path / "index.html").read_text()
    assert 'href="2026-W47.html"' in index and "Nov 16\u2009–\u200922, 2026" in index
    feed = ET.fromstring((config.archive_path / "feed.xml").read_text())
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "The Weekly Wrap: Nov 16\u2009–\u200922, 2026"  # type: ignore[union-attr]
    link = entry.find(f"{ATOM}link").get("href")  # type: ignore[union-attr]
    assert link == "https://news.example.com/digest/archive/2026-W47.html"


def test_the_view_in_browser_link_is_served(config: Config, tmp_path: Path) -> None:
    _sent(config)
    mail = next((config.outbox_path / "2026-W47").glob("*.eml")).read_text()
    assert "https://news.example.com/digest/archive/2026-W47.html" in mail
    with TestClient(
        create_app(config, send_queue=False), base_url="https://news.example.com"
    ) as client:
        page = client.get("/digest/archive/2026-W47.html")
        assert page.status_code == 200 and "Ransomware Crews" in page.text
        assert client.get("/digest/archive/").status_code == 200
        assert client.get("/digest/archive/feed.xml").status_code == 200
        assert client.get("/digest/archive/2020-W01.html").status_code == 404
        assert client.get("/digest/archive/../digest.db").status_code == 404


def test_a_sectionless_week_shows_max_articles_says_the_rest_and_the_web_has_it_all(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    import email
    import email.policy

    from digest.lint.edition import lint_edition
    from digest.readers.subscribers import save_subscriber

    from ..conftest import make_config

    config = make_config(tmp_path, digest={"section_order": []})
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    for i in range(20):
        store.upsert_article(
            db,
            make_article(
                title=f"Story number {i:02d}",
                topics=("Local", "Weather") if i % 2 else ("Local",),
                published_at=week.start + timedelta(hours=10 + i),
            ),
            NOW,
        )
    save_subscriber(db, "ann@example.org", "Ann", [], NOW)
    sent = send_edition(config, db, week, lambda: NOW)
    assert sent is not None
    [cut] = [w for w in sent.warnings if w.startswith("Copies carry fewer stories")]
    assert "all topics 12 of 20" in cut  # said where the editor looks, too
    raw = next((config.outbox_path / "2026-W47").glob("*.eml")).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    shown = {f"Story number {i:02d}" for i in range(20) if f"Story number {i:02d}" in html}
    assert len(shown) == config.digest.max_articles == 12  # the week, not a section's 4
    assert "And 8 more stories this week." in text and "8 more stories this week are" in text
    view = "https://news.example.com/digest/archive/2026-W47.html"
    assert html.count(f'href="{view}" class="more-link"') == 2 and view in text
    page = (config.archive_path / "2026-W47.html").read_text()
    assert all(f"Story number {i:02d}" in page for i in range(20))
    index = (config.archive_path / "index.html").read_text()
    assert "and 17 more" in index  # the week's, not the email's 12
    assert "more this week" not in page and "web version" not in page.split("footer")[0]
    report = lint_edition(config, db, week, NOW, draw=False)
    assert report is not None
    [hint] = [f for f in report.findings if f.level == "hint"]
    assert 'all 20 stories of the week are under one "More" heading' in hint.message
    assert "section_order" in hint.message and '"Local" (20), "Weather" (10)' in hint.message
    [cut] = [f for f in report.findings if f.check == "cut"]
    assert "shows 12 of the week's 20 stories" in cut.message and cut.level == "warning"
    # Configured sections that hold the week: no hint.
    sectioned = make_config(tmp_path, digest={"section_order": ["Local"], "max_articles": 30})
    report = lint_edition(sectioned, db, week, NOW, draw=False)
    assert report is not None and not [f for f in report.findings if f.check in ("sections",)]


def test_lint_says_when_a_story_below_has_the_picture_the_lead_lacks(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    from digest.lint.edition import lint_edition

    from ..conftest import make_config

    config = make_config(tmp_path, digest={"section_order": []})
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    for title, width, featured in (("Lead", 150, True), ("Below", 800, False), ("Third", 0, False)):
        store.upsert_article(
            db,
            make_article(
                title=title,
                featured=featured,
                image_url=f"https://cdn.example.com/{title}.jpg" if width else "",
                image_width=width,
                published_at=week.start + timedelta(hours=10),
            ),
            NOW,
        )
    report = lint_edition(config, db, week, NOW, draw=False)
    assert report is not None
    [warning] = [f for f in report.findings if f.check == "pictures"]
    assert '"Lead" has no picture across the column (its picture is 150 px wide' in warning.message
    assert '"Below" has one 800 px wide' in warning.message and warning.level == "warning"


def test_each_web_version_is_found_and_shared(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    import json

    import lxml.html

    from ..conftest import make_config

    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    for i, width in enumerate((1200, 0, 0)):
        store.upsert_article(
            db,
            make_article(
                title=f"Story </script><!-- {i}",
                featured=i == 0,
                author="Ann Lee" if i == 0 else "",
                image_url="https://cdn.example.com/lead.jpg" if width else "",
                image_width=width,
                image_height=600 if width else 0,
                published_at=week.start + timedelta(hours=10 + i),
            ),
            NOW,
        )
    from digest.readers.subscribers import save_subscriber

    save_subscriber(db, "ann@example.org", "Ann", [], NOW)
    send_edition(config, db, week, lambda: NOW)
    text = (config.archive_path / "2026-W47.html").read_text()
    page = lxml.html.document_fromstring(text)
    url = "https://news.example.com/digest/archive/2026-W47.html"
    meta = {m.get("property") or m.get("name"): m.get("content") for m in page.iter("meta")}
    assert page.xpath("//link[@rel='canonical']/@href") == [url]
    preheader = page.find_class("preheader")[0].text_content().split("\u2007")[0]
    assert meta["description"] == preheader and meta["og:description"] == preheader
    assert meta["og:url"] == url and meta["og:type"] == "article"
    assert meta["og:image"] == meta["twitter:image"] == "https://cdn.example.com/lead.jpg"
    assert meta["twitter:card"] == "summary_large_image" and "robots" not in meta
    [script] = page.xpath("//script[@type='application/ld+json']")
    assert "</script><!--" not in script.text  # the headlines cannot close or comment it
    data = json.loads(script.text)
    assert data["@type"] == "ItemList" and data["numberOfItems"] == 3
    first = data["itemListElement"][0]["item"]
    assert first["@type"] == "NewsArticle" and first["headline"] == "Story </script><!-- 0"
    assert first["author"] == {"@type": "Person", "name": "Ann Lee"} and first["image"]
    sitemap = ET.fromstring((config.archive_path / "sitemap.xml").read_text())
    locs = [e.text for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs == ["https://news.example.com/digest/archive/", url]
    index = (config.archive_path / "index.html").read_text()
    assert 'rel="canonical" href="https://news.example.com/digest/archive/"' in index
    # Opt-in noindex: the pages say so, and no sitemap invites a crawler.
    hidden = make_config(tmp_path, archive={"noindex": True})
    from digest.content.archive import publish_edition
    from digest.content.edition import edition_for_week

    edition = edition_for_week(hidden, db, week)
    assert edition is not None
    publish_edition(hidden, db, edition, NOW)
    assert (
        '<meta name="robots" content="noindex">'
        in (hidden.archive_path / "2026-W47.html").read_text()
    )
    assert (
        '<meta name="robots" content="noindex">' in (hidden.archive_path / "index.html").read_text()
    )
    assert not (hidden.archive_path / "sitemap.xml").exists()
    mail = next((config.outbox_path / "2026-W47").glob("*.eml")).read_text()
    assert "og:title" not in mail and "ld+json" not in mail  # the email has none of it


VNU = REPO / "tests" / ".node" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
JAVA = shutil.which("java")


@pytest.mark.slow
@pytest.mark.skipif(
    (not VNU.exists() or JAVA is None) and not os.environ.get("CI"),
    reason="needs the Nu HTML checker: npm install --prefix tests/.node vnu-jar@26, and java",
)
def test_the_nu_checker_finds_no_error_in_the_web_version_or_the_index(config: Config) -> None:
    """The W3C's Nu HTML checker (vnu.jar), as the world checks a page, on the web
    version (canonical, Open Graph, JSON-LD and all) and the archive's index."""
    _sent(config)
    pages = [config.archive_path / "2026-W47.html", config.archive_path / "index.html"]
    done = subprocess.run(
        [JAVA or "java", "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(done.stderr or done.stdout or '{"messages": []}')["messages"]
    assert [m for m in messages if m.get("type") == "error"] == [], messages
