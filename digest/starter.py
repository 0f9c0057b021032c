"""`digest init`: the default configuration, the store, and with `--demo` a week of
sample articles and readers from the packaged demo file (`config/demo.json`), dated
inside the most recent complete week so that `send` right after has an edition.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.weeks import last_complete_week
from digest.models import Article
from digest.readers.subscribers import save_subscriber
from digest.resources import demo_data


def demo_articles(
    config: Config, now: datetime, data: dict[str, Any] | None = None
) -> list[Article]:
    """The demo articles, dated inside the last complete week before ``now``."""
    data = data or demo_data()
    monday = last_complete_week(now, config.tz).start.date()
    articles = []
    for a in data["articles"]:
        local = datetime.combine(monday + timedelta(days=a["day"]), time(a["hour"]), config.tz)
        articles.append(
            Article(
                id=0,
                url=f"{data['site']}/{local:%Y/%m}/{a['slug']}",
                title=a["title"],
                published_at=local,
                body="".join(f"<p>{p}</p>\n" for p in a["paragraphs"]),
                author=a["author"],
                topics=tuple(a["topics"]),
                featured=a["featured"],
                score=a["score"],
            )
        )
    return articles


def load_demo(config: Config, db: Database, now: datetime) -> tuple[int, int]:
    """Load the demo articles and readers; how many of each were added."""
    data = demo_data()
    added = sum(
        store.upsert_article(db, a, now) == "added" for a in demo_articles(config, now, data)
    )
    readers = sum(
        save_subscriber(db, r["email"], r["name"], r["topics"], now) == "added"
        for r in data["subscribers"]
    )
    return added, readers
