"""`send --workers N`: one frozen edition delivered by N sender processes at once, each
over its own shard (subscriber id modulo N), with one progress bar and one summary.

The ledger is the shared state: each worker takes its shard's lease and records every
outcome. For the progress bar each worker also keeps, in a slot of shared memory, how
many of its shard's deliveries are still open; the parent counts the ledger once at
the start and then only adds up the slots (nothing that grows with the list). A worker
that dies is started again once on its shard (it takes over its own dead lease and goes
on where the ledger says: its restart counts its shard afresh); if it dies again, the
next `send` resumes that shard.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue as queues
import signal
from datetime import UTC, datetime
from typing import Any

from digest import store
from digest.config import Config
from digest.delivery.ledger import Progress, deliver_edition
from digest.errors import DigestError

log = logging.getLogger(__name__)
RESTARTS = 1  # times a dead worker is started again within one run
_POLL = 0.25  # seconds between looks at the ledger and the workers


def run_workers(
    config: Config, week: str, edition_id: int, count: int, progress: Progress | None
) -> list[str]:
    """Deliver ``edition_id`` with ``count`` worker processes; return what went wrong
    (one line per worker that could not finish), empty when all did."""
    context = multiprocessing.get_context("spawn")  # no inherited SQLite handles
    errors: Any = context.Queue()
    db = store.open_store(config.store_path)
    by_shard = store.open_delivery_counts_by_shard(db, edition_id, count)
    db.close()
    total = sum(by_shard)
    # Each worker's open deliveries, as it last said (subscriber id % count == i - 1).
    remaining: Any = context.Array("q", by_shard, lock=False)
    procs = {
        i: _start(context, config, week, edition_id, (i, count), errors, remaining)
        for i in range(1, count + 1)
    }
    restarts = dict.fromkeys(procs, 0)
    failures: list[str] = []
    while procs:
        said = _drain(errors, _POLL)
        failures += said
        if progress:
            progress(total - sum(remaining), total)
        for i, proc in list(procs.items()):
            if proc.is_alive():
                continue
            proc.join()
            if proc.exitcode == 0:
                del procs[i]
            elif proc.exitcode is not None and proc.exitcode < 0 and restarts[i] < RESTARTS:
                restarts[i] += 1
                log.warning(
                    "worker %d/%d died (signal %d); starting it again", i, count, -proc.exitcode
                )
                procs[i] = _start(context, config, week, edition_id, (i, count), errors, remaining)
            else:
                del procs[i]
                if proc.exitcode is not None and proc.exitcode < 0:
                    failures.append(
                        f"worker {i}/{count} died twice (signal {-proc.exitcode}); "
                        "`send --resume` delivers its shard"
                    )
    failures += _drain(errors, 0)
    return failures


def _start(
    context: Any,
    config: Config,
    week: str,
    edition_id: int,
    shard: tuple[int, int],
    errors: Any,
    remaining: Any,
) -> Any:
    proc = context.Process(
        target=_work,
        args=(config, week, edition_id, shard, errors, remaining),
        name=f"digest-{shard[0]}",
    )
    proc.start()
    return proc


def _work(
    config: Config,
    week: str,
    edition_id: int,
    shard: tuple[int, int],
    errors: Any,
    remaining: Any,
) -> None:
    """One worker: its shard of the edition, then exit 0; a DigestError is reported to
    the parent and ends the worker with exit 1. It dies with its parent: a `send` that
    is killed stops sending. After each outcome it puts its shard's open count in its
    slot of ``remaining`` (one writer per slot)."""
    _die_with_parent()
    slot = shard[0] - 1  # shard i: subscriber id % count == i - 1, as the ledger counts

    def report(done: int, total: int) -> None:
        remaining[slot] = total - done

    db = store.open_store(config.store_path)
    try:
        deliver_edition(config, db, week, edition_id, lambda: datetime.now(UTC), shard, report)
    except DigestError as e:
        errors.put(f"worker {shard[0]}/{shard[1]}: {e}")
        raise SystemExit(1) from e
    finally:
        db.close()


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers finish their shards alone
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _drain(errors: Any, wait: float) -> list[str]:
    found = []
    try:
        found.append(errors.get(timeout=wait) if wait else errors.get_nowait())
        while True:
            found.append(errors.get_nowait())
    except queues.Empty:
        pass
    return found
