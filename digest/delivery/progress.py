"""Send progress for people: a bar with rate and ETA on a terminal, log lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class SendProgress:
    """Called with (done, total) after each outcome; draws at most a few times a second."""

    def __init__(
        self,
        stream: TextIO = sys.stderr,
        every: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.every = every
        self.clock = clock
        self.start = clock()
        self.interactive = stream.isatty()
        self.drawn = float("-inf")
        self.logged = 0  # multiples of `every` logged so far; -1 once the end is logged

    def line(self, done: int, total: int) -> str:
        """'1,000/20,000  5%  812 msg/s  ETA 23s'."""
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = done / elapsed
        eta = _duration((total - done) / rate) if rate > 0 and done < total else "0s"
        share = 100 * done / total if total else 100
        return f"{done:,}/{total:,}  {share:3.0f}%  {rate:,.0f} msg/s  ETA {eta}"

    def __call__(self, done: int, total: int) -> None:
        if self.interactive:
            now = self.clock()
            if now - self.drawn >= 0.2 or done >= total:
                self.drawn = now
                width = 30
                filled = int(width * done / total) if total else width
                bar = "#" * filled + "-" * (width - filled)
                end = "\n" if done >= total else ""
                self.stream.write(f"\r[{bar}] {self.line(done, total)}{end}")
                self.stream.flush()
        elif self.logged >= 0 and (done // self.every > self.logged or done == total):
            # counts may jump (workers report from the ledger): log each step crossed
            self.logged = -1 if done == total else done // self.every
            self.stream.write(f"sent {self.line(done, total)}\n")
            self.stream.flush()
