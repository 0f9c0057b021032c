"""Delivery policy: who may take an edition's send lock, and when."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from digest import store
from digest.delivery.ledger import acquire_lock
from digest.models import RenderedVariant

from ..conftest import NOW


def test_lock_refuses_a_second_live_owner_and_yields_to_a_dead_or_expired_one(db: Any) -> None:
    store.insert_subscriber(db, "a@example.org", "", [], NOW)
    variant = RenderedVariant("", "Subject", "<p>x</p>", "x", 1)
    edition_id = store.freeze_edition(db, "2026-W47", {}, [variant], NOW)
    later = NOW + timedelta(minutes=10)
    dead: set[str] = set()

    def take(owner: str, now: Any = NOW, shard: str = "1/1") -> str | None:
        return acquire_lock(db, edition_id, shard, owner, now, dead.__contains__)

    assert take("one") is None
    assert take("two") == "one"  # alive and within its lease
    assert take("two", shard="2/2") == "one"  # 2/2 overlaps 1/1: everyone is in 1/1
    store.release_lock(db, edition_id, "1/1", "one")
    assert take("one", shard="1/2") is None
    assert take("two", shard="2/2") is None  # another shard of the same split
    assert take("three") == "one"  # 1/1 overlaps both halves
    store.release_lock(db, edition_id, "1/2", "one")
    store.release_lock(db, edition_id, "2/2", "two")
    assert take("one") is None
    assert take("three", now=later + timedelta(seconds=1)) is None  # lease ran out
    dead.add("three")
    assert take("four") is None  # its holder died
    store.release_lock(db, edition_id, "1/1", "four")
    assert take("five") is None


def test_a_killed_sender_that_is_still_a_zombie_counts_as_gone() -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time

    from digest.delivery.ledger import holder_is_gone

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = f"{socket.gethostname()}:{child.pid}:abcd1234"
    try:
        assert not holder_is_gone(holder)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].startswith(" Z"):
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        assert holder_is_gone(holder)  # killed, not yet reaped: a zombie
    finally:
        child.wait()
    assert holder_is_gone(holder)
