"""The list commands' peak memory as the list grows: `subscribers import` (and its dry
run), `subscribers list --json` and `subscribers export`, each a `digest` process.

    python benchmarks/subscribers.py [--rows 200000 1000000]

For each size a CSV of that many readers (email, name, topics; one in fifty a
duplicate in another case, one in a hundred unsubscribed) is imported into a fresh
store with `--dry-run`, then for real, then listed and exported. The smallest size is
the baseline: flat memory means the same peak at every size. Peak RSS is read from the
kernel (wait4). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _config import write_config

REPO = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-0123456789abcdef0123456789"


def write_list(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,topics,status\n")
        for i in range(rows):
            status = "unsubscribed" if i % 100 == 7 else "active"
            if i % 50 == 3:  # the same reader again, in another case
                out.write(f"READER{i - 1}@Example.org,,tls,{status}\n")
            else:
                out.write(f"reader{i}@example.org,Reader {i},dns,{status}\n")


def run(config_path: Path, *args: str) -> tuple[float, int]:
    """One `digest` command: wall seconds and peak RSS (KB) from the kernel."""
    env = {**os.environ, "DIGEST_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "digest", "--config", str(config_path), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"digest {' '.join(args)} failed"
    return time.perf_counter() - start, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    args = parser.parse_args()
    commands = {
        "import --dry-run": ("subscribers", "import", "{csv}", "--dry-run"),
        "import": ("subscribers", "import", "{csv}"),
        "list --json": ("subscribers", "list", "--json"),
        "export": ("subscribers", "export", "{out}"),
    }
    results: dict[int, dict[str, tuple[float, int]]] = {}
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            config_path = write_config(folder)
            csv, out = folder / "list.csv", folder / "out.csv"
            write_list(csv, rows)
            results[rows] = {
                label: run(config_path, *(a.format(csv=csv, out=out) for a in command))
                for label, command in commands.items()
            }
    base = args.rows[0]
    print(f"{'command':<20}" + "".join(f"{f'{n:,} rows':>26}" for n in args.rows))
    for label in commands:
        cells = []
        for rows in args.rows:
            seconds, peak = results[rows][label]
            ratio = peak / results[base][label][1]
            cells.append(f"{peak / 1024:7.1f} MB {ratio:5.2f}x {seconds:6.1f} s")
        print(f"{label:<20}" + "".join(f"{c:>26}" for c in cells))
    print(f"(peak RSS, its ratio to {base:,} rows, wall time)")


if __name__ == "__main__":
    main()
