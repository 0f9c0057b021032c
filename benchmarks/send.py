"""Delivery benchmark: digest against Postfix's smtp-source and a bare aiosmtplib loop.

    python benchmarks/send.py [--subscribers 20000 60000] [--concurrency 4] [--workers N]

For each list size it builds a store of that many subscribers and an edition from the
real articles in ../shared/testdata/extraction (about 80 KB per message), freezes it,
then in the same run times, against one Postfix `smtp-sink` on 127.0.0.1:

1. digest: one `python -m digest send --workers 1` process, then (the ledger reset)
   `send --workers N` (N processes from one command), ledger and all; peak RSS of the
   one process is read from the kernel (wait4);
2. a bare aiosmtplib loop with the same concurrency sending pre-built bytes of the
   same message;
3. Postfix's C `smtp-source` at its best here (16 sessions, not slowed to digest's
   settings) sending the same number of messages of the same size.

Then the provider API transport: `send` with `[delivery] transport = "ses"` against
moto's SES v2 server (a separate process on 127.0.0.1, boto3 pointed at it with
AWS_ENDPOINT_URL), beside the same number of messages over SMTP to smtp-sink: messages
per second and digest's own CPU per message (user + system time of the `send`
process, from wait4). moto is a Python server, so the API's rate here is moto's; the
CPU per message is digest's.

It installs Debian's postfix package when smtp-sink is missing (as root; the postfix
daemon is never started). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _articles import load_articles
from _net import free_port, wait_until_listening

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata" / "extraction"
WEEK = "2026-W47"
TOPICS = ["Cybersecurity", "DNS", "Domain Names", "IPv4 Markets", "Threat Intelligence", "New TLDs"]
SECRET = "benchmark-secret-0123456789abcdef012345"
# The C client at its best on this machine, not slowed to digest's settings.
SOURCE_SESSIONS = 16


def ensure_postfix_tools() -> None:
    """smtp-sink and smtp-source from Debian's postfix package, installed if missing."""
    if shutil.which("smtp-sink") and shutil.which("smtp-source"):
        return
    if os.geteuid() != 0:
        sys.exit("smtp-sink is missing: run `apt-get install postfix` as root, then again.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    preseed = "postfix postfix/main_mailer_type select No configuration\n"
    subprocess.run(["debconf-set-selections"], input=preseed, text=True, check=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True, env=env)


def start_sink(port: int) -> subprocess.Popen[bytes]:
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen(
        [shutil.which("smtp-sink") or "smtp-sink", *user, f"127.0.0.1:{port}", "1024"]
    )
    wait_until_listening(sink, port, "smtp-sink")
    return sink


def write_config(folder: Path, concurrency: int) -> Path:
    path = folder / "digest.toml"
    path.write_text(f"""
[newsletter]
name = "The Weekly Wrap"
from = "The Weekly Wrap <wrap@news.example.com>"
base_url = "https://news.example.com/digest"
timezone = "UTC"
postal_address = "100 Example Street, Vancouver"
[store]
path = "bench.db"
[outbox]
path = "outbox"
[templates]
path = "{REPO / "templates" / "email"}"
[smtp]
tls = "none"
concurrency = {concurrency}
timeout = 60
[digest]
max_articles = 22
max_per_section = 5
max_sections = 7
excerpt_chars = 900
section_order = {json.dumps(TOPICS)}
""")
    return path


def build_store(config_path: Path, subscribers: int, freeze: bool = True) -> int:
    """Articles from the test data, ``subscribers`` readers, a frozen edition (unless
    not ``freeze``); the size of one message."""
    sys.path.insert(0, str(REPO))
    from digest import store
    from digest.config import load_config
    from digest.content.copies import render_variants
    from digest.content.edition import build_edition
    from digest.content.frozen import edition_payload
    from digest.content.weeks import week_window
    from digest.mail.message import build_message, prepare_variant

    config = load_config(config_path, {"DIGEST_SECRET": SECRET})
    db = store.open_store(config.store_path)
    week = week_window(WEEK, config.tz)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    load_articles(db, week, now, lambda i: (TOPICS[i % len(TOPICS)],), pictures=True)
    stamp = store.to_db_time(now)
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (email, name, topics, status, created_at, updated_at) "
            "VALUES (?, ?, '', 'active', ?, ?)",
            ((f"reader{i}@example.org", f"Reader {i}", stamp, stamp) for i in range(subscribers)),
        )
    edition = build_edition(config, db, week)
    assert edition is not None
    variants = render_variants(config, edition, [""])
    if not freeze:
        return len(variants[0].html)
    store.freeze_edition(db, WEEK, edition_payload(edition), variants, now)
    sample = store.get_subscriber(db, "reader0@example.org")
    assert sample is not None
    return len(build_message(config, prepare_variant(config, variants[0], WEEK, now), sample))


def digest_env(port: int) -> dict[str, str]:
    """The environment a `digest send` of this benchmark runs with."""
    return {
        **os.environ,
        "DIGEST_SECRET": SECRET,
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(port),
        "PYTHONPATH": str(REPO),
    }


def reset_ledger(config_path: Path) -> None:
    """Every delivery pending again, for the next run over the same frozen edition."""
    from digest import store
    from digest.config import load_config

    db = store.open_store(load_config(config_path, {"DIGEST_SECRET": SECRET}).store_path)
    with db.atomic():
        db.execute("UPDATE deliveries SET status = 'pending', attempts = 0")
        db.execute("UPDATE editions SET status = 'frozen', finished_at = NULL")
    db.close()


def run_send(
    config_path: Path, port: int, *args: str, env: dict[str, str] | None = None
) -> tuple[float, int, dict[str, int]]:
    """One `digest send ... --json` command: wall seconds, peak RSS (KB) of its largest
    process (from the kernel, wait4), and its final counts (with "cpu_s", the process's
    user + system seconds)."""
    command = [sys.executable, "-m", "digest", "--config", str(config_path), "send", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*command, "--json"], env=env or digest_env(port), stdout=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, f"digest send {' '.join(args)} failed"
    report = json.loads(proc.stdout.read())  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    report["cpu_s"] = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss, report


def bench_api(n: int, port: int) -> list[tuple[str, float, float]]:
    """(transport, messages a second, CPU ms per message) for ``n`` messages over SMTP
    to smtp-sink and through the SES v2 API to moto's server."""
    moto_port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_listening(moto, moto_port, "moto_server")
    aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    rows = []
    try:
        import boto3

        boto3.client("sesv2", **_boto(aws)).create_email_identity(EmailIdentity="news.example.com")
        with tempfile.TemporaryDirectory() as tmp:
            config_path = write_config(Path(tmp), 10)
            build_store(config_path, n)
            for transport in ("smtp", "ses"):
                reset_ledger(config_path)
                env = {
                    **digest_env(port),
                    **aws,
                    "DIGEST_DELIVERY_TRANSPORT": transport,
                    "DIGEST_SES_RATE": "0",  # SES allows 14/s by default; moto has no limit
                }
                seconds, _, counts = run_send(config_path, port, "--week", WEEK, env=env)
                assert counts["sent"] == n, counts
                rows.append((transport, n / seconds, counts["cpu_s"] * 1000 / n))
    finally:
        moto.terminate()
        moto.wait()
    return rows


def _boto(aws: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": aws["AWS_ENDPOINT_URL"],
        "aws_access_key_id": aws["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"],
        "region_name": aws["AWS_DEFAULT_REGION"],
    }


_BARE = """
import asyncio, sys, time, aiosmtplib
port, n, conc, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
data = open(path, "rb").read()
async def worker(count):
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
    await client.connect()
    for i in range(count):
        await client.sendmail("wrap@news.example.com", [f"r{i}@example.org"], data)
    await client.quit()
async def main():
    await asyncio.gather(*(worker(n // conc + (1 if k < n % conc else 0)) for k in range(conc)))
start = time.perf_counter(); asyncio.run(main()); print(time.perf_counter() - start)
"""


def run_bare(port: int, n: int, concurrency: int, message: Path) -> tuple[float, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _BARE, str(port), str(n), str(concurrency), str(message)],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "bare loop failed"
    seconds = float(proc.stdout.read())  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    return seconds, usage.ru_maxrss


def run_smtp_source(port: int, n: int, sessions: int, message: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            shutil.which("smtp-source") or "smtp-source",
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(n),
            "-F",
            str(message),
            "-f",
            "wrap@news.example.com",
            "-t",
            "reader@example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
    )
    return time.perf_counter() - start


def sample_message(config_path: Path, folder: Path) -> Path:
    """One subscriber's message as digest builds it, for the two baselines to send."""
    from digest import store
    from digest.config import load_config
    from digest.mail.message import build_message, prepare_variant

    config = load_config(config_path, {"DIGEST_SECRET": SECRET})
    db = store.open_store(config.store_path)
    edition = store.get_edition(db, WEEK)
    assert edition is not None
    variant = store.edition_variants(db, edition.id)[""]
    reader = store.get_subscriber(db, "reader0@example.org")
    assert reader is not None
    path = folder / "message.eml"
    path.write_bytes(
        build_message(config, prepare_variant(config, variant, WEEK, datetime.now(UTC)), reader)
    )
    return path


def bench(n: int, concurrency: int, workers: int, port: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config_path = write_config(folder, concurrency)
        size = build_store(config_path, n)
        message = sample_message(config_path, folder)
        digest_s, digest_rss, counts = run_send(config_path, port, "--week", WEEK, "--workers", "1")
        assert counts["sent"] == n, counts
        reset_ledger(config_path)
        many_s, _, counts = run_send(config_path, port, "--week", WEEK, "--workers", str(workers))
        assert counts["sent"] == n, counts
        bare_s, bare_rss = run_bare(port, n, concurrency, message)
        source_s = run_smtp_source(port, n, SOURCE_SESSIONS, message)
    return {
        "n": n,
        "size_kb": size / 1024,
        "digest": n / digest_s,
        "workers": n / many_s,
        "bare": n / bare_s,
        "source": n / source_s,
        "digest_rss_mb": digest_rss / 1024,
        "bare_rss_mb": bare_rss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[20_000, 60_000])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="for `send --workers N`"
    )
    parser.add_argument(
        "--api", type=int, default=3000, help="messages for the API transport (0: skip)"
    )
    args = parser.parse_args()
    ensure_postfix_tools()
    port = free_port()
    sink = start_sink(port)
    try:
        rows = [bench(n, args.concurrency, args.workers, port) for n in args.subscribers]
        api = bench_api(args.api, port) if args.api else []
    finally:
        sink.terminate()
        sink.wait()
    print(
        f"concurrency {args.concurrency} per process; smtp-source with {SOURCE_SESSIONS} "
        "sessions; one Postfix smtp-sink"
    )
    print(
        f"{'subscribers':>11} {'msg KB':>7} {'1 proc/s':>9} {f'{args.workers} wkrs/s':>9} "
        f"{'bare/s':>8} {'source/s':>9} {'1 proc':>7} {'workers':>8} {'RSS 1 proc':>11}"
    )
    for r in rows:
        print(
            f"{r['n']:>11,} {r['size_kb']:>7.1f} {r['digest']:>9,.0f} {r['workers']:>9,.0f} "
            f"{r['bare']:>8,.0f} {r['source']:>9,.0f} {r['digest'] / r['source']:>6.2f}x "
            f"{r['workers'] / r['source']:>7.2f}x {r['digest_rss_mb']:>9.1f}MB"
        )
    print("(1 proc and workers: digest's rate as a share of smtp-source's, same run)")
    if len(rows) > 1:
        print(
            f"peak RSS {rows[-1]['n']:,} vs {rows[0]['n']:,} subscribers: "
            f"{rows[-1]['digest_rss_mb'] / rows[0]['digest_rss_mb']:.2f}x"
        )
    if api:
        print(f"\n{args.api:,} messages, concurrency 10, one process each:")
        print(f"{'transport':>22} {'msgs/s':>8} {'CPU ms/msg':>11}")
        names = {"smtp": "SMTP to smtp-sink", "ses": "SES v2 API to moto"}
        for transport, rate, cpu in api:
            print(f"{names[transport]:>22} {rate:>8,.0f} {cpu:>11.2f}")
    signed = _dkim_cost()
    print(
        f"DKIM signing in digest (dkimpy, RSA-2048): {signed:.2f} ms per message, "
        f"{1000 / signed:,.0f} msgs/s per core at most; sign at the relay for volume"
    )


def _dkim_cost() -> float:
    """DKIM's cost on a message of this benchmark's size (about 34 KB)."""
    sys.path.insert(0, str(REPO))
    from _dkim import dkim_ms_per_message

    from digest.config import build_config

    config = build_config(Path("digest.toml"), {}, {})
    head = (
        b"From: a@news.example.com\r\nTo: b@example.org\r\nSubject: s\r\n"
        b"List-Unsubscribe: <https://news.example.com/u>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n"
    )
    body = b"Line of body text for the benchmark message.\r\n" * 700
    return dkim_ms_per_message(config, [head + body] * 50)


if __name__ == "__main__":
    main()
