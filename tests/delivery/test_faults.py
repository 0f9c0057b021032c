"""Delivery under fault, against a real SMTP server on 127.0.0.1 that injects them.

Senders run as real processes (`python -m digest send`) where a crash or a second
sender is the point.
"""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from digest import store
from digest.content.weeks import last_complete_week, week_window
from digest.delivery.sending import send_edition
from digest.errors import ArchiveError, StoreError
from digest.readers.subscribers import save_subscriber

from ..conftest import (
    NOW,
    REPO,
    LocalController,
    RecordingHandler,
    SenderBlockingRelay,
    child_pids,
    free_port,
    make_config,
)
from ..fixtures import load_week

pytestmark = pytest.mark.slow  # a system test: see tests/conftest.py


@dataclass
class FaultyHandler(RecordingHandler):
    """Records like RecordingHandler; answers some DATA with 451, drops some connections,
    and can hold every DATA past ``hold_after`` until the test opens ``gate``: a sender
    caught mid-send for as long as the test needs, whatever the machine's speed."""

    fail_every: int = 0  # every Nth DATA gets 451
    drop_at: set[int] = field(default_factory=set)  # DATA numbers that lose the connection
    delay: float = 0.0
    data_seen: int = 0
    hold_after: int = 0  # 0 = never hold
    gate: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.data_seen += 1
        n = self.data_seen
        while self.hold_after and n > self.hold_after and not self.gate.is_set():
            await asyncio.sleep(0.01)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_every and n % self.fail_every == 0:
            return "451 4.3.0 Temporary failure, try again"
        if n in self.drop_at:
            server.transport.close()  # gone before the reply: the sender cannot know
            return "421 4.4.2 Connection dropped"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def faulty() -> Any:
    handler = FaultyHandler()
    controller = LocalController(handler)
    controller.start()
    yield controller, handler
    handler.gate.set()  # let held sessions end
    controller.stop()


@pytest.fixture
def senders() -> Iterator[list[subprocess.Popen[str]]]:
    """Sender processes of a test: none outlives it, whatever the test's outcome."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _seed(db: Any, config: Any, extra: int) -> None:
    load_week(config, db, NOW)
    with db.atomic():
        for i in range(extra):
            save_subscriber(db, f"reader{i:04d}@example.org", f"Reader {i}", [], NOW)


def _smtp(tmp_path: Path, port: int, **extra: Any) -> Any:
    smtp = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "concurrency": 4,
        "timeout": 10,
        "retries": 4,
    }
    smtp.update(extra)
    return make_config(tmp_path, smtp=smtp)


def _recipients(handler: FaultyHandler) -> Counter[str]:
    return Counter(r.rcpt_tos[0] for r in handler.received)


def test_every_50th_data_answered_451_all_delivered_once(tmp_path: Path, faulty: Any) -> None:
    controller, handler = faulty
    handler.fail_every = 50
    config = _smtp(tmp_path, controller.port)
    db = store.open_store(config.store_path)
    _seed(db, config, 194)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 200
    counts = _recipients(handler)
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert handler.data_seen == 204  # DATA 50, 100, 150 and 200 were refused, then retried


def test_550_addresses_bounced_and_never_retried(tmp_path: Path, faulty: Any) -> None:
    controller, handler = faulty
    bad = {"reader0003@example.org", "reader0010@example.org"}
    handler.refuse.update({a: "550 5.1.1 User unknown" for a in bad})
    config = _smtp(tmp_path, controller.port)
    db = store.open_store(config.store_path)
    _seed(db, config, 20)
    week = week_window("2026-W47", config.tz)
    report = send_edition(config, db, week, lambda: NOW)
    assert report is not None and (report.count("sent"), report.count("bounced")) == (24, 2)
    assert {s.email for s in store.iter_subscribers(db, "bounced")} == bad
    handler.refuse.clear()
    assert send_edition(config, db, week, lambda: NOW).already_sent  # type: ignore[union-attr]
    assert not bad & set(_recipients(handler))


def test_connection_dropped_mid_data_is_delivered_after_reconnect(
    tmp_path: Path, faulty: Any
) -> None:
    controller, handler = faulty
    handler.drop_at = {5, 17, 18}
    config = _smtp(tmp_path, controller.port)
    db = store.open_store(config.store_path)
    _seed(db, config, 30)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 36
    counts = _recipients(handler)
    assert len(counts) == 36 and set(counts.values()) == {1}


# ---------------------------------------------------------------- real processes


def _cli_env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        {
            "DIGEST_SMTP_HOST": "127.0.0.1",
            "DIGEST_SMTP_PORT": str(port),
            "DIGEST_SMTP_TLS": "none",
            "DIGEST_SMTP_CONCURRENCY": "4",
            "DIGEST_SECRET": "fault-test-secret-0123456789abcdef",
            "DIGEST_NOW": NOW.isoformat(),  # the suite's clock, never the machine's
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def _cli_config(tmp_path: Path, subscribers: int) -> Path:
    path = tmp_path / "config" / "digest.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_NOW"] = NOW.isoformat()
    subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(path), "init", "--demo"],
        check=True,
        capture_output=True,
        env=env,
    )
    rows = "\n".join(f"reader{i:04d}@example.org,Reader {i}," for i in range(subscribers))
    (tmp_path / "subs.csv").write_text("email,name,topics\n" + rows + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "digest",
            "--config",
            str(path),
            "subscribers",
            "import",
            str(tmp_path / "subs.csv"),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return path


def _sender(path: Path, port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        # one sender process: these tests count what one process has on the wire
        [sys.executable, "-m", "digest", "--config", str(path), "send", "--workers", "1", *args],
        env=_cli_env(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sigkill_mid_send_then_resume_sends_everyone_once(
    tmp_path: Path, faulty: Any, senders: list[subprocess.Popen[str]]
) -> None:
    controller, handler = faulty
    handler.hold_after = 120  # the sender is caught with messages on the wire
    path = _cli_config(tmp_path, 394)
    week = _demo_week(path)
    sender = _sender(path, controller.port, "--week", week)
    senders.append(sender)
    _wait_for(lambda: handler.data_seen > 120, seconds=120)
    sender.send_signal(signal.SIGKILL)
    sender.communicate()
    assert sender.returncode == -signal.SIGKILL
    killed_at = len(handler.received)
    handler.gate.set()  # what was on the wire arrives: the relay had the whole message
    resumed = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(path), "send", "--resume", "--json"],
        env=_cli_env(controller.port),
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    counts = _recipients(handler)
    assert killed_at < 400  # the kill really landed mid-send
    assert len(counts) == 400  # nobody lost
    twice = [r for r, n in counts.items() if n > 1]
    assert len(twice) <= 4 and all(counts[r] == 2 for r in twice)  # at most `concurrency`
    for recipient in twice:
        ids = {
            message_from_bytes(m.data)["Message-ID"]
            for m in handler.received
            if m.rcpt_tos == [recipient]
        }
        assert len(ids) == 1  # the copy carries the same Message-ID


def test_two_concurrent_sends_of_one_week_one_refuses(
    tmp_path: Path, faulty: Any, senders: list[subprocess.Popen[str]]
) -> None:
    controller, handler = faulty
    handler.hold_after = 10  # the first sender is held mid-send until the second is done
    path = _cli_config(tmp_path, 194)
    week = _demo_week(path)
    first = _sender(path, controller.port, "--week", week)
    senders.append(first)
    _wait_for(lambda: handler.data_seen > 10, seconds=120)
    second = _sender(path, controller.port, "--week", week)
    senders.append(second)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 1
    assert f"Edition {week} (shard 1/1) is being sent by another process" in err
    handler.gate.set()
    first.communicate(timeout=120)
    assert first.returncode == 0
    counts = _recipients(handler)
    assert len(counts) == 200 and set(counts.values()) == {1}


def _demo_week(path: Path) -> str:
    """`init --demo` dates its articles in the last complete week before the clock."""
    return last_complete_week(NOW, ZoneInfo("America/Vancouver")).label


def test_relay_refusing_the_sender_stops_the_run_early(tmp_path: Path) -> None:
    from digest.errors import DeliveryError

    handler = SenderBlockingRelay()
    controller = LocalController(handler)
    controller.start()
    try:
        config = _smtp(tmp_path, controller.port, concurrency=2)
        db = store.open_store(config.store_path)
        _seed(db, config, 300)
        with pytest.raises(DeliveryError, match=r"550 5.7.1 Sender blocked.*send --resume"):
            send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    finally:
        controller.stop()
    assert handler.mails <= 2  # one try per connection, not one per subscriber
    edition = store.get_edition(db, "2026-W47")
    assert edition is not None
    counts = store.delivery_counts(db, edition.id)
    assert counts.get("pending", 0) >= 300  # the list is intact for a resume
    assert list(store.iter_subscribers(db, "bounced")) == []


def test_shards_split_the_list_and_together_send_everyone(tmp_path: Path, faulty: Any) -> None:
    controller, handler = faulty
    config = _smtp(tmp_path, controller.port)
    db = store.open_store(config.store_path)
    _seed(db, config, 44)
    week = week_window("2026-W47", config.tz)
    first = send_edition(config, db, week, lambda: NOW, shard=(1, 3))
    assert first is not None and first.count("sent") == 16  # ids 3, 6, ..., 48
    assert store.get_edition(db, week.label).status == "frozen"  # type: ignore[union-attr]
    send_edition(config, db, week, lambda: NOW, shard=(2, 3))
    last = send_edition(config, db, week, lambda: NOW, shard=(3, 3))
    assert last is not None and last.count("sent") == 50
    assert store.get_edition(db, week.label).status == "sent"  # type: ignore[union-attr]
    counts = _recipients(handler)
    assert len(counts) == 50 and set(counts.values()) == {1}


@dataclass
class UnsubscribingHandler(RecordingHandler):
    """After the first message, everyone else leaves (one-click from another process)."""

    store_path: Path | None = None
    done: bool = False

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if not self.done and self.store_path is not None:
            self.done = True
            other = store.open_store(self.store_path)  # a second connection, as the web's
            for s in list(store.iter_subscribers(other, "active")):
                if s.email not in envelope.rcpt_tos:
                    store.change_subscriber(other, s.id, NOW, "one-click", status="unsubscribed")
            other.close()
        return await super().handle_DATA(server, session, envelope)


def test_unsubscribes_during_a_send_are_not_mailed(tmp_path: Path) -> None:
    handler = UnsubscribingHandler()
    controller = LocalController(handler)
    controller.start()
    try:
        config = _smtp(tmp_path, controller.port)
        handler.store_path = config.store_path
        db = store.open_store(config.store_path)
        _seed(db, config, 294)
        report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    finally:
        controller.stop()
    assert report is not None
    concurrency = config.smtp.concurrency
    # Only the messages already on the wire when they left can still go.
    assert len(handler.received) <= 1 + concurrency
    assert report.count("sent") == len(handler.received)
    assert report.count("skipped") == 300 - len(handler.received)


def test_an_unwritable_archive_stops_the_send_before_any_message_and_the_next_send_retries(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = make_config(tmp_path, archive={"path": str(blocker / "archive")})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)
    with pytest.raises(ArchiveError, match=r"Cannot write the web version of 2026-W47"):
        send_edition(config, db, week, lambda: NOW)
    assert store.get_edition(db, "2026-W47") is not None  # frozen ...
    assert not (config.outbox_path / "2026-W47").exists()  # ... but nothing went out
    blocker.unlink()
    report = send_edition(config, db, week, lambda: NOW)
    assert report is not None and report.count("sent") == 6
    assert (blocker / "archive" / "2026-W47.html").is_file()


def _fill_store_after(db: Any, pages: int) -> None:
    """SQLite's own "database or disk is full" once the file grows by ``pages`` pages."""
    current = next(db.query("PRAGMA page_count"))["page_count"]
    db.execute(f"PRAGMA max_page_count = {current + pages}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 16 MB tmpfs: a real filesystem that fills up. Skips where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("needs root to mount a small tmpfs (a real full disk)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    # unbuffered: the write that finds the disk full raises here, and closing the file
    # has nothing left to flush (a buffered close could raise ENOSPC itself)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@dataclass
class FillingHandler(RecordingHandler):
    """After ``after`` messages, truncates the store's WAL and fills its disk."""

    store_path: Path | None = None
    after: int = 1000
    filler: Path | None = None

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.received) == self.after and self.store_path is not None:
            other = sqlite3.connect(self.store_path)
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next commit must grow it
            other.close()
            self.filler = _fill(self.store_path.parent)
        return answer


def test_a_disk_that_fills_mid_send_stops_the_run_and_resume_finishes_it(
    tmp_path: Path, small_disk: Path
) -> None:
    handler = FillingHandler(after=1000)
    controller = LocalController(handler)
    controller.start()
    try:
        smtp = {"host": "127.0.0.1", "port": controller.port, "tls": "none", "timeout": 10}
        config = make_config(tmp_path, smtp=smtp, store={"path": str(small_disk / "d.db")})
        handler.store_path = config.store_path
        db = store.open_store(config.store_path)
        _seed(db, config, 1994)
        week = week_window("2026-W47", config.tz)
        started = time.monotonic()
        with pytest.raises(StoreError, match="could not be written while sending 2026-W47"):
            send_edition(config, db, week, lambda: NOW)
        assert time.monotonic() - started < 60  # stopped, not hung
        assert handler.filler is not None
        first = len(handler.received)
        assert 1000 <= first <= 1000 + config.smtp.concurrency
        db.close()
        handler.filler.unlink()  # space freed
        db = store.open_store(config.store_path)
        report = send_edition(config, db, week, lambda: NOW)
    finally:
        controller.stop()
    assert report is not None and report.count("sent") == 2000
    counts = _recipients(handler)
    assert len(counts) == 2000
    assert sum(n - 1 for n in counts.values()) <= config.smtp.concurrency


def test_a_store_full_at_freeze_time_is_a_clear_error_and_freezes_nothing(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _fill_store_after(db, 0)
    week = week_window("2026-W47", config.tz)
    with pytest.raises(StoreError, match="could not be written while freezing 2026-W47"):
        send_edition(config, db, week, lambda: NOW)
    db.close()
    db = store.open_store(config.store_path)
    assert store.get_edition(db, "2026-W47") is None
    report = send_edition(config, db, week, lambda: NOW)
    assert report is not None and report.count("sent") == 6


def test_connections_spread_over_two_relays_and_one_that_dies_mid_run_is_set_aside(
    tmp_path: Path,
) -> None:
    first, second = FaultyHandler(delay=0.002), FaultyHandler(delay=0.002)
    one = LocalController(first)
    two = LocalController(second)
    one.start()
    two.start()
    try:
        config = _smtp(
            tmp_path,
            25,
            host=f"127.0.0.1:{one.port}, 127.0.0.1:{two.port}",
            retries=6,
            max_per_connection=20,
        )
        db = store.open_store(config.store_path)
        _seed(db, config, 594)
        week = week_window("2026-W47", config.tz)

        def kill_one_later() -> None:
            _wait_for(lambda: len(first.received) >= 60)
            one.stop()  # this relay is gone for the rest of the run

        killer = threading.Thread(target=kill_one_later)
        killer.start()
        report = send_edition(config, db, week, lambda: NOW)
        killer.join()
    finally:
        two.stop()
    assert report is not None and report.count("sent") == 600
    counts = Counter(r.rcpt_tos[0] for r in [*first.received, *second.received])
    assert len(counts) == 600  # nobody lost
    assert sum(n - 1 for n in counts.values()) <= config.smtp.concurrency  # those on the wire
    assert len(first.received) >= 60 and len(second.received) > 300


def test_a_relay_that_is_down_from_the_start_leaves_the_work_to_the_other(
    tmp_path: Path, faulty: Any
) -> None:
    controller, handler = faulty
    dead = free_port()  # nothing listens there
    config = _smtp(tmp_path, 25, host=f"127.0.0.1:{dead},127.0.0.1:{controller.port}")
    db = store.open_store(config.store_path)
    _seed(db, config, 94)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 100 and len(handler.received) == 100


@pytest.mark.parametrize(
    ("hosts", "relays"),
    [
        ("relay.example.net", ["relay.example.net:587"]),
        ("a.example.net, b.example.net:2525", ["a.example.net:587", "b.example.net:2525"]),
        ("[2001:db8::1]:25", ["2001:db8::1:25"]),
    ],
)
def test_relay_lists(hosts: str, relays: list[str]) -> None:
    from digest.config import parse_relays

    assert [str(r) for r in parse_relays(hosts, 587)] == relays


def test_a_malformed_relay_list_is_a_config_error(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[smtp\] host 'a.example.net:99999'"):
        _smtp(tmp_path, 25, host="ok.example.net, a.example.net:99999")


def test_a_worker_killed_mid_send_is_started_again_and_nobody_is_lost(
    tmp_path: Path, faulty: Any, senders: list[subprocess.Popen[str]]
) -> None:
    controller, handler = faulty
    handler.hold_after = 100  # both workers are held mid-send until one has been killed
    path = _cli_config(tmp_path, 594)
    week = _demo_week(path)
    sender = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digest",
            "--config",
            str(path),
            "send",
            "--workers",
            "2",
            "--week",
            week,
            "--json",
        ],
        env=_cli_env(controller.port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    senders.append(sender)
    _wait_for(lambda: handler.data_seen > 100, 120)
    children = child_pids(sender.pid)
    victims = [p for p in children if _is_worker(p)]
    assert victims, children
    os.kill(victims[0], signal.SIGKILL)
    handler.gate.set()
    out, err = sender.communicate(timeout=120)
    assert sender.returncode == 0, err
    assert "died (signal 9); starting it again" in err and json.loads(out)["sent"] == 600
    counts = _recipients(handler)
    assert len(counts) == 600
    assert sum(n - 1 for n in counts.values()) <= 4  # one worker's connections on the wire
    for recipient in [r for r, n in counts.items() if n > 1]:
        ids = {
            message_from_bytes(m.data)["Message-ID"]
            for m in handler.received
            if m.rcpt_tos == [recipient]
        }
        assert len(ids) == 1  # a repeat carries the same Message-ID


def _is_worker(pid: int) -> bool:
    try:
        return "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False
