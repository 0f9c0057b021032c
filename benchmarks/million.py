"""A million subscribers: freeze, dry run and send into Postfix's smtp-sink, with the
time and peak memory of each command.

    python benchmarks/million.py [--subscribers 1000000] [--workers N]

Uses the same real articles and store layout as benchmarks/send.py. Memory should stay
flat: subscribers are streamed from the ledger in batches, never held all at once.
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _net import free_port
from send import (
    WEEK,
    build_store,
    digest_env,
    ensure_postfix_tools,
    start_sink,
    write_config,
)


def run(config_path: Path, port: int, *args: str) -> tuple[float, float, dict[str, object]]:
    """One `digest` command: wall seconds, peak RSS (MB), its --json answer."""
    env = digest_env(port)
    command = [sys.executable, "-m", "digest", "--config", str(config_path), *args, "--json"]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, f"{args} failed"
    answer = json.loads(proc.stdout.read())  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss / 1024, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    ensure_postfix_tools()
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config_path = write_config(Path(tmp), 4)
            start = time.perf_counter()
            build_store(config_path, args.subscribers, freeze=False)
            loaded = time.perf_counter() - start
            dry = run(config_path, port, "send", "--week", WEEK, "--dry-run")
            sent = run(config_path, port, "send", "--week", WEEK, "--workers", str(args.workers))
    finally:
        sink.terminate()
        sink.wait()
    n = args.subscribers
    print(f"{n:,} subscribers (store loaded in {loaded:.0f} s)")
    print(f"send --dry-run             {dry[0]:7.1f} s   peak RSS {dry[1]:6.1f} MB")
    print(
        f"send --workers {args.workers} (freeze+send) {sent[0]:7.1f} s   peak RSS {sent[1]:6.1f} MB"
        f"   {n / sent[0]:,.0f} msgs/s, sent {sent[2]['sent']:,}"
    )


if __name__ == "__main__":
    main()
