"""The tests' week: twelve articles across the topics and six readers, seeded straight
into the store. The text is the demo week's (`config/demo.json`): the golden emails and
many assertions name its stories and readers, so it is read from there, not copied.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from digest import store
from digest.config import Config
from digest.content.weeks import last_complete_week
from digest.models import Article
from digest.readers.subscribers import save_subscriber

from .conftest import REPO

WEEK_FILE = REPO / "config" / "demo.json"


def week_articles(config: Config, now: datetime) -> list[Article]:
    """The week's articles, dated inside the last complete week before ``now``."""
    data = json.loads(WEEK_FILE.read_text(encoding="utf-8"))
    monday = last_complete_week(now, config.tz).start.date()
    return [_article(data["site"], monday, a, config) for a in data["articles"]]


def _article(site: str, monday: Any, a: dict[str, Any], config: Config) -> Article:
    local = datetime.combine(monday + timedelta(days=a["day"]), time(a["hour"]), config.tz)
    return Article(
        id=0,
        url=f"{site}/{local:%Y/%m}/{a['slug']}",
        title=a["title"],
        published_at=local,
        body="".join(f"<p>{p}</p>\n" for p in a["paragraphs"]),
        author=a["author"],
        topics=tuple(a["topics"]),
        featured=a["featured"],
        score=a["score"],
    )


def load_week(config: Config, db: Any, now: datetime) -> None:
    """Seed the week's articles and its six readers."""
    for article in week_articles(config, now):
        store.upsert_article(db, article, now)
    data = json.loads(WEEK_FILE.read_text(encoding="utf-8"))
    for reader in data["subscribers"]:
        save_subscriber(db, reader["email"], reader["name"], reader["topics"], now)
