"""A feed import into a large store against the same import into an empty one.

    python benchmarks/feed_import.py [--items 10000] [--store-articles 100000] [--repeats 3]

A feed file of ``--items`` new entries (each with its guid, link, category and date) is
imported with `digest import` (`content.feeds.import_feed`) into an empty store and
into a store that already holds ``--store-articles`` articles, interleaved, each
repeat on a fresh copy of the store. An import should cost the same per item in both:
linear in its items, independent of the store's size. Also times 1/10 of the items
into the large store, to show the cost is linear in the items. Prints figures;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from _config import write_config

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def write_feed(path: Path, items: int, prefix: str) -> None:
    """An RSS 2.0 file of ``items`` entries none of which the store has yet."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>Bench</title><link>https://feed.example.com/</link>"
        "<description>Benchmark feed</description>"
    ]
    for i in range(items):
        when = (NOW - timedelta(minutes=i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        parts.append(
            f"<item><title>{escape(f'Item {i} of the benchmark feed')}</title>"
            f"<link>https://feed.example.com/{prefix}/{i}</link>"
            f'<guid isPermaLink="false">{prefix}-guid-{i}</guid>'
            f"<pubDate>{when}</pubDate><category>Topic {i % 7}</category>"
            f"<description>{escape(f'<p>Entry {i}: a short body of one sentence.</p>')}"
            "</description></item>"
        )
    parts.append("</channel></rss>\n")
    path.write_text("".join(parts), encoding="utf-8")


def fill_store(path: Path, articles: int) -> None:
    """A store of ``articles`` articles (each with a guid and a topic), as imports leave it."""
    from digest import store

    db = store.open_store(path)
    stamp = store.to_db_time(NOW - timedelta(days=30))
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO topics (slug, name) VALUES (?, ?)",
            ((f"topic-{t}", f"Topic {t}") for t in range(7)),
        )
        db.conn.executemany(
            "INSERT INTO articles (url, guid, title, body, published_at, image_url, "
            "image_width, image_height, content_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"https://old.example.com/{i}",
                    f"old-guid-{i}",
                    f"Old article {i}",
                    f"<p>Old body {i}.</p>",
                    stamp,
                    f"https://img.example.com/{i}.jpg",
                    640 if i % 2 else 0,
                    480 if i % 2 else 0,
                    f"{i:064x}",
                    stamp,
                    stamp,
                )
                for i in range(articles)
            ),
        )
        db.execute(
            "INSERT INTO article_topics (article_id, topic_id, position) "
            "SELECT a.id, t.id, 0 FROM articles a JOIN topics t ON t.slug = 'topic-' || (a.id % 7)"
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def import_once(config_path: Path, store_file: Path, feed: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, articles added) of one import of ``feed``."""
    from digest import store
    from digest.config import load_config
    from digest.content.feeds import import_feed

    config = load_config(config_path, {"DIGEST_SECRET": "x" * 32})
    shutil.copyfile(store_file, config.store_path)
    db = store.open_store(config.store_path)
    cpu, wall = time.process_time(), time.perf_counter()
    report, _ = import_feed(db, config, str(feed), NOW)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    db.close()
    config.store_path.unlink()
    return cpu, wall, report.added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--store-articles", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config_path = write_config(folder, "[feeds]\nmax_bytes = 200000000\n")
        empty, full = folder / "empty.db", folder / "full.db"
        fill_store(empty, 0)
        start = time.perf_counter()
        fill_store(full, args.store_articles)
        built = time.perf_counter() - start
        print(f"store of {args.store_articles:,} articles built in {built:.1f} s")
        feed, tenth = folder / "feed.xml", folder / "tenth.xml"
        write_feed(feed, args.items, "new")
        write_feed(tenth, args.items // 10, "new")
        runs: dict[str, list[tuple[float, float, int]]] = {}
        cases = [
            (f"{args.items:,} items into an empty store", empty, feed),
            (f"{args.items:,} items into {args.store_articles:,} articles", full, feed),
            (f"{args.items // 10:,} items into {args.store_articles:,} articles", full, tenth),
        ]
        for _ in range(args.repeats):  # interleaved: the machine's load falls on each alike
            for label, store_file, source in cases:
                runs.setdefault(label, []).append(import_once(config_path, store_file, source))
    base = min(r[0] / r[2] for r in runs[cases[0][0]])
    print(f"{'import':<44} {'CPU s':>7} {'wall s':>7} {'CPU ms/item':>12} {'vs empty':>9}")
    for label, results in runs.items():
        cpu, wall, added = min(results)
        per_item = cpu / added
        print(f"{label:<44} {cpu:7.2f} {wall:7.2f} {per_item * 1000:12.3f} {per_item / base:8.2f}x")
    print(f"(best of {args.repeats} interleaved repeats; CPU is the process's user + system time)")


if __name__ == "__main__":
    main()
