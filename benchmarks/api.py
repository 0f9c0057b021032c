"""The API under a bounded load on loopback, beside the CLI doing the same.

    python benchmarks/api.py [--json]

One client, one request at a time, against `digest serve`'s app on a real uvicorn on
127.0.0.1:

- a batch import of 10,000 articles (10 POST /api/v1/articles:batch of 1,000), beside
  `digest import` of the same 10,000 records as a JSONL file (a fresh store each);
- sync pages of 1,000 readers (GET /api/v1/subscribers, 10 pages over 10,000 readers),
  beside `digest subscribers list --json` of a 1,000-reader store;
- webhooks out: 1,000 reader changes delivered to a receiver on loopback.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest import store  # noqa: E402
from digest.config import Config, build_config  # noqa: E402
from digest.hooks.endpoints import add_endpoint  # noqa: E402
from digest.hooks.sender import deliver  # noqa: E402
from digest.web.access import add_token  # noqa: E402
from digest.web.app import create_app  # noqa: E402

SECRET = "benchmark-secret-" + "x" * 32
CONFIG = """[newsletter]
name = "The Weekly Wrap"
from = "The Weekly Wrap <wrap@news.example.com>"
base_url = "https://news.example.com/digest"
postal_address = "100 Example Street, Vancouver"
[store]
path = "digest.db"
[api]
requests_per_minute = 100000
burst = 1000
[webhooks]
allow_private_targets = true
"""


def _config(folder: Path) -> Config:
    import tomllib

    (folder / "digest.toml").write_text(CONFIG, encoding="utf-8")
    return build_config(folder / "digest.toml", tomllib.loads(CONFIG), {"DIGEST_SECRET": SECRET})


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "url": f"https://news.example.com/story/{i}",
            "title": f"Story {i}",
            "body": "<p>" + "A paragraph of the story. " * 40 + "</p>",
            "published_at": "2026-11-18T10:00:00Z",
            "topics": ["Tech"],
        }
        for i in range(n)
    ]


class _Server:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()


def _call(url: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if data else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def _cli(folder: Path, *args: str) -> float:
    env = {**os.environ, "DIGEST_SECRET": SECRET, "DIGEST_NOW": "2026-11-25T12:00:00+00:00"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(folder / "digest.toml"), *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def articles(tmp: Path) -> dict[str, float]:
    records = _records(10_000)
    api_dir, cli_dir = tmp / "api-articles", tmp / "cli-articles"
    api_dir.mkdir()
    cli_dir.mkdir()
    config = _config(api_dir)
    with store.open_store(config.store_path) as db:
        token = add_token(db, "bench", ["articles:write"], datetime.now(UTC)).token
    with _Server(create_app(config, send_queue=False)) as port:
        start = time.perf_counter()
        for i in range(0, len(records), 1000):
            report = _call(
                f"http://127.0.0.1:{port}/api/v1/articles:batch",
                token,
                {"articles": records[i : i + 1000]},
            )
            assert report["added"] == 1000, report
        api = time.perf_counter() - start
    _config(cli_dir)
    jsonl = cli_dir / "articles.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    cli = _cli(cli_dir, "import", str(jsonl))
    return {
        "api_seconds": round(api, 2),
        "api_articles_per_s": round(10_000 / api),
        "api_requests_per_s": round(10 / api, 2),
        "cli_seconds": round(cli, 2),
        "cli_articles_per_s": round(10_000 / cli),
    }


def _readers(config: Config, n: int) -> None:
    with store.open_store(config.store_path) as db, store.transaction(db):
        now = datetime.now(UTC)
        for i in range(n):
            store.insert_subscriber(db, f"reader{i}@example.org", f"Reader {i}", ["tech"], now)


def sync(tmp: Path) -> dict[str, float]:
    api_dir, cli_dir = tmp / "api-sync", tmp / "cli-sync"
    api_dir.mkdir()
    cli_dir.mkdir()
    config = _config(api_dir)
    _readers(config, 10_000)
    with store.open_store(config.store_path) as db:
        token = add_token(db, "bench", ["subscribers:read"], datetime.now(UTC)).token
    with _Server(create_app(config, send_queue=False)) as port:
        cursor, pages = "", 0
        start = time.perf_counter()
        while True:
            query = f"?changed_since={cursor}" if cursor else ""
            page = _call(f"http://127.0.0.1:{port}/api/v1/subscribers{query}", token)
            if not page["subscribers"]:
                break
            pages += 1
            cursor = page["next_cursor"]
        api = time.perf_counter() - start
    _readers(_config(cli_dir), 1000)
    cli = _cli(cli_dir, "subscribers", "list", "--json")
    return {
        "api_pages": pages,
        "api_pages_of_1000_per_s": round((pages + 1) / api, 1),
        "cli_list_1000_seconds": round(cli, 2),
    }


def webhooks(tmp: Path) -> dict[str, float]:
    folder = tmp / "hooks"
    folder.mkdir()
    config = _config(folder)
    _readers(config, 1000)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/h"
    now = datetime.now(UTC)
    with store.open_store(config.store_path) as db:
        add_endpoint(db, config, url, ["subscriber.unsubscribed"], now)
        start = time.perf_counter()
        for i in range(1000):
            store.change_subscriber(db, i + 1, now, "cli", status="unsubscribed")
        written = time.perf_counter() - start
        start = time.perf_counter()
        report = deliver(db, config, lambda: now)
        sent = time.perf_counter() - start
    server.shutdown()
    assert report.delivered == 1000, report
    return {
        "changes_with_event_per_s": round(1000 / written),
        "webhooks_delivered_per_s": round(1000 / sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        results = {"articles": articles(tmp), "sync": sync(tmp), "webhooks": webhooks(tmp)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, figures in results.items():
        print(name + ": " + ", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
