"""A million subscribers: freeze, dry run and send into Postfix's smtp-sink, with the
time and peak memory of each command.

    python benchmarks/million.py [--subscribers 1000000] [--workers N]

Uses the same real articles and store layout as benchmarks/send.py. Memory should stay
flat: subscribers are streamed from the ledger in batches, never held all at once.
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _net import free_port
from send import (
    WEEK,
    build_store,
    ensure_postfix_tools,
    run_send,
    start_sink,
    write_config,
)


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
            dry = run_send(config_path, port, "--week", WEEK, "--dry-run")
            sent = run_send(config_path, port, "--week", WEEK, "--workers", str(args.workers))
    finally:
        sink.terminate()
        sink.wait()
    n = args.subscribers
    print(f"{n:,} subscribers (store loaded in {loaded:.0f} s)")
    print(f"send --dry-run             {dry[0]:7.1f} s   peak RSS {dry[1] / 1024:6.1f} MB")
    print(
        f"send --workers {args.workers} (freeze+send) {sent[0]:7.1f} s   "
        f"peak RSS {sent[1] / 1024:6.1f} MB"
        f"   {n / sent[0]:,.0f} msgs/s, sent {sent[2]['sent']:,}"
    )


if __name__ == "__main__":
    main()
