"""Pipeline benchmark: render, inline, per-subscriber build, and SMTP send, each against
a baseline measured in the same run.

    python benchmarks/pipeline.py [--subscribers N] [--concurrency C]

- render + inline: one edition of the 12 articles `init --demo` loads, Jinja render vs premailer.
- build: digest's per-subscriber assembly (placeholders + C quoted-printable) against
  the stdlib way (an EmailMessage per subscriber, serialised with the SMTP policy).
- send: digest's whole `send` (ledger, lock, pool) to an aiosmtpd sink in another
  process, against a bare aiosmtplib loop sending the same pre-built bytes with the
  same concurrency to the same sink.

Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from _dkim import dkim_ms_per_message
from _net import free_port, wait_until_listening

from digest import store
from digest.config import build_config
from digest.content.copies import choose_copy, render_copy
from digest.content.edition import build_edition
from digest.content.render import (
    HTML_TEMPLATE,
    _context,
    inline_css,
    make_environment,
    templates_dir,
)
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.mail.message import build_message, prepare_variant
from digest.models import Subscriber
from digest.resources import default_config_text
from digest.starter import load_demo

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


def _config(folder: Path, port: int, concurrency: int) -> Any:
    raw = {
        "newsletter": {"timezone": "America/Vancouver", "postal_address": "1 Example St"},
        "store": {"path": "bench.db"},
        "templates": {"path": str(REPO / "templates" / "email")},
        # The shipped configuration's sections: the demo week's topics.
        "digest": {
            "section_order": tomllib.loads(default_config_text())["digest"]["section_order"]
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "tls": "none",
            "concurrency": concurrency,
            "timeout": 30,
        },
    }
    return build_config(
        folder / "digest.toml", raw, {"DIGEST_SECRET": "bench-secret-0123456789abcdef0123456789"}
    )


def _timed(fn: Any, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def bench_render(config: Any, edition: Any) -> dict[str, float]:
    env = make_environment(templates_dir(config), config.newsletter.language)
    context = _context(config, edition, choose_copy(config, edition, ""), "")
    html = env.get_template(HTML_TEMPLATE).render(context)
    render_s = _timed(lambda: env.get_template(HTML_TEMPLATE).render(context), 20)
    inline_s = _timed(lambda: inline_css(html, config.base_url), 10)
    variant_s = _timed(lambda: render_copy(config, edition, ""), 10)
    return {
        "render_ms": render_s * 1e3,
        "inline_ms": inline_s * 1e3,
        "variant_ms": variant_s * 1e3,
        "html_kb": len(html) / 1024,
        "inlined_kb": len(inline_css(html, config.base_url)) / 1024,
    }


def bench_build(config: Any, edition: Any, n: int) -> dict[str, float]:
    variant = render_copy(config, edition, "")
    prepared = prepare_variant(config, variant, "2026-W47", NOW)
    readers = [Subscriber(i, f"reader{i}@example.org", f"Reader {i}") for i in range(1, n + 1)]
    start = time.perf_counter()
    size = sum(len(build_message(config, prepared, r)) for r in readers)
    ours = time.perf_counter() - start
    policy = email.policy.SMTP.clone(max_line_length=998)
    start = time.perf_counter()
    for r in readers:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = config.newsletter.sender, r.email, variant.subject
        msg.set_content(variant.text)
        msg.add_alternative(variant.html, subtype="html")
        msg.as_bytes(policy=policy)
    stdlib = time.perf_counter() - start
    return {"digest_per_s": n / ours, "stdlib_per_s": n / stdlib, "message_kb": size / n / 1024}


def bench_dkim(config: Any, edition: Any, n: int) -> dict[str, float]:
    """DKIM signing's cost per message (dkimpy, RSA-2048, relaxed/relaxed)."""
    variant = render_copy(config, edition, "")
    prepared = prepare_variant(config, variant, "2026-W47", NOW)
    messages = [
        build_message(config, prepared, Subscriber(i, f"r{i}@example.org", "R"))
        for i in range(1, n + 1)
    ]
    return {"sign_ms": dkim_ms_per_message(config, messages)}


def _start_sink(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_listening(proc, port, "the aiosmtpd sink")
    return proc


async def _bare_loop(port: int, messages: list[tuple[str, bytes]], concurrency: int) -> None:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while not queue.empty():
            rcpt, data = queue.get_nowait()
            await client.sendmail("wrap@news.example.com", [rcpt], data)
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def bench_send(folder: Path, n: int, concurrency: int) -> dict[str, float]:
    port = free_port()
    sink = _start_sink(port)
    try:
        config = _config(folder, port, concurrency)
        db = store.open_store(config.store_path)
        load_demo(config, db, NOW)
        with db.atomic():
            for i in range(n - 6):
                store.insert_subscriber(db, f"reader{i}@example.org", f"Reader {i}", [], NOW)
        week = week_window("2026-W47", config.tz)
        start = time.perf_counter()
        report = send_edition(config, db, week, lambda: datetime.now(UTC))
        ours = time.perf_counter() - start
        assert report is not None and report.count("sent") == n, report
        edition = build_edition(config, db, week)
        prepared = prepare_variant(config, render_copy(config, edition, ""), week.label, NOW)
        messages = [
            (s.email, build_message(config, prepared, s)) for s in store.iter_subscribers(db)
        ]
        start = time.perf_counter()
        asyncio.run(_bare_loop(port, messages, concurrency))
        bare = time.perf_counter() - start
    finally:
        sink.terminate()
        sink.wait()
    return {"digest_per_s": n / ours, "bare_per_s": n / bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = _config(folder, 25, args.concurrency)
        db = store.open_store(folder / "render.db")
        load_demo(config, db, NOW)
        edition = build_edition(config, db, week_window("2026-W47", config.tz))
        r = bench_render(config, edition)
        b = bench_build(config, edition, args.subscribers)
        s = bench_send(folder / "send", args.subscribers, args.concurrency)
        d = bench_dkim(config, edition, 200)
    print(
        f"edition: {edition.article_count} articles, HTML {r['html_kb']:.1f} KB before "
        f"inlining, {r['inlined_kb']:.1f} KB after"
    )
    print(f"render (Jinja)           {r['render_ms']:8.2f} ms per edition")
    print(f"inline (premailer)       {r['inline_ms']:8.2f} ms per edition")
    print(f"render + inline variant  {r['variant_ms']:8.2f} ms per variant")
    print(
        f"build, digest            {b['digest_per_s']:8.0f} msgs/s  ({b['message_kb']:.1f} KB each)"
    )
    print(
        f"build, stdlib baseline   {b['stdlib_per_s']:8.0f} msgs/s  "
        f"(digest is {b['digest_per_s'] / b['stdlib_per_s']:.1f}x)"
    )
    print(
        f"DKIM sign (RSA-2048)     {d['sign_ms']:8.2f} ms per message  "
        f"(build is {1000 / b['digest_per_s']:.3f} ms)"
    )
    print(
        f"send, digest (ledger)    {s['digest_per_s']:8.0f} msgs/s to aiosmtpd, "
        f"{args.subscribers} subscribers, concurrency {args.concurrency}"
    )
    print(
        f"send, bare aiosmtplib    {s['bare_per_s']:8.0f} msgs/s  "
        f"(digest is {s['digest_per_s'] / s['bare_per_s']:.2f}x)"
    )


if __name__ == "__main__":
    main()
