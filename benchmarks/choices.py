"""Topic choices: a send's peak memory as the number of distinct copies grows.

    python benchmarks/choices.py [--choices 10 100 1000] [--readers-per-choice 2]

The 22 real articles of ../shared/testdata/extraction under 12 topics (each article in
two), and readers whose topic choices are that many distinct subsets of the 12 (4,095
at most), two readers each. For each count: `digest send --dry-run` (the plan: every
copy rendered once), then `digest send --workers 1` (render, freeze and send into the
outbox, one process), each a fresh process whose peak RSS and CPU time are read from
the kernel (wait4). The smallest count is the baseline: memory flat in the copies
means the same peak at every count. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _articles import load_articles

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata" / "extraction"
WEEK = "2026-W47"
SECRET = "benchmark-secret-0123456789abcdef012345"
TOPICS = [
    "Cybersecurity", "DNS", "Domain Names", "IPv4 Markets", "Threat Intelligence",
    "New TLDs", "Registrars", "Policy", "Abuse", "Email", "Routing", "Privacy",
]  # fmt: skip


def write_config(folder: Path) -> Path:
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
[digest]
max_articles = 22
max_per_section = 4
max_sections = 12
excerpt_chars = 600
section_order = {json.dumps(TOPICS)}
""")
    return path


def choices(count: int) -> list[list[str]]:
    """``count`` distinct non-empty subsets of the topics, small ones first."""
    found: list[list[str]] = []
    for size in range(1, len(TOPICS) + 1):
        for subset in itertools.combinations(TOPICS, size):
            found.append(list(subset))
            if len(found) == count:
                return found
    return found


def build_store(config_path: Path, count: int, per_choice: int) -> None:
    if not TESTDATA.is_dir():
        sys.exit(f"{TESTDATA} is missing: the benchmark renders its real articles.")
    sys.path.insert(0, str(REPO))
    from digest import store
    from digest.config import load_config
    from digest.content.weeks import week_window

    config = load_config(config_path, {"DIGEST_SECRET": SECRET})
    db = store.open_store(config.store_path)
    week = week_window(WEEK, config.tz)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    load_articles(db, week, now, lambda i: (TOPICS[i % 12], TOPICS[(i + 5) % 12]))
    stamp = store.to_db_time(now)
    readers = [
        (f"reader{n}-{k}@example.org", store.topics_key(choice))
        for n, choice in enumerate(choices(count))
        for k in range(per_choice)
    ]
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (email, name, topics, status, created_at, updated_at) "
            "VALUES (?, '', ?, 'active', ?, ?)",
            ((email, key, stamp, stamp) for email, key in readers),
        )
    db.close()


def run(config_path: Path, *args: str) -> tuple[float, int]:
    """One `digest send` command: CPU seconds (user + system) and peak RSS (KB), from
    the kernel."""
    env = {**os.environ, "DIGEST_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "digest", "--config", str(config_path), "send", *args]
    proc = subprocess.Popen(command, env=env, cwd=config_path.parent, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"digest send {' '.join(args)} failed"
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choices", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--readers-per-choice", type=int, default=2)
    args = parser.parse_args()
    results: dict[int, dict[str, tuple[float, int]]] = {}
    for count in args.choices:
        with tempfile.TemporaryDirectory() as tmp:
            config_path = write_config(Path(tmp))
            build_store(config_path, count, args.readers_per_choice)
            results[count] = {
                "send --dry-run": run(config_path, "--week", WEEK, "--dry-run"),
                "send --workers 1": run(config_path, "--week", WEEK, "--workers", "1"),
            }
    base = args.choices[0]
    print(f"{'command':<18}" + "".join(f"{f'{n:,} choices':>30}" for n in args.choices))
    for label in results[base]:
        cells = []
        for count in args.choices:
            seconds, peak = results[count][label]
            ratio = peak / results[base][label][1]
            cells.append(f"{peak / 1024:7.1f} MB {ratio:5.2f}x {seconds:6.1f} s CPU")
        print(f"{label:<18}" + "".join(f"{c:>30}" for c in cells))
    per = args.readers_per_choice
    print(f"(peak RSS, its ratio to {base:,} choices, CPU time; {per} readers a choice)")


if __name__ == "__main__":
    main()
