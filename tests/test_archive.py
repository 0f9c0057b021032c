"""The archive: the "view in browser" page, the index and the Atom feed, served."""

import xml.etree.ElementTree as ET
from pathlib import Path

from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.web.app import create_app

from .conftest import NOW
from .fixtures import load_week

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
    assert "This is the web version of The Weekly Wrap" in page
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
