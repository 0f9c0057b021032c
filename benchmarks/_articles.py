"""The benchmarks' week: the real articles of ../shared/testdata/extraction, spread over
one week and filed under the topics each benchmark chooses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata" / "extraction"


def load_articles(
    db: Any,
    week: Any,
    now: datetime,
    topics: Callable[[int], tuple[str, ...]],
    *,
    pictures: bool = False,
) -> int:
    """Upsert every real article into ``db`` inside ``week``; the ``i``-th gets
    ``topics(i)`` (and a picture address with ``pictures``). How many were loaded."""
    from digest import store
    from digest.models import Article

    pages = sorted(TESTDATA.glob("*.json"))
    for i, page in enumerate(pages):
        record = json.loads(page.read_text())
        body = "".join(f"<p>{p}</p>" for p in record["body"].split("\n") if p.strip())
        store.upsert_article(
            db,
            Article(
                id=0,
                url=record["url"],
                title=record["title"],
                body=body,
                author="Staff",
                published_at=week.start.replace(hour=8) + (week.end - week.start) * i / 23,
                topics=topics(i),
                score=float(i % 5),
                image_url=f"https://news.example.com/img/{i}.jpg" if pictures else "",
            ),
            now,
        )
    return len(pages)
