"""Backups taken while the store is in use (SQLite's online backup API), and restores
that check the copy first and never run during a send."""

import shutil
import sqlite3
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.backups import backup_store, restore_store
from digest.cli import cli
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import StoreError

from .conftest import NOW, ClockedRunner, LocalController, RecordingHandler, make_config
from .fixtures import load_week

MAILCHIMP_COLUMNS = [
    "Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP",
    "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE",
    "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip


# ---------------------------------------------------------------- backup and restore


@pytest.mark.slow
def test_a_backup_taken_mid_send_restores_to_a_store_whose_resume_sends_everyone_once(
    tmp_path: Path,
) -> None:
    class Held(RecordingHandler):
        def __init__(self) -> None:
            super().__init__()
            self.gate = threading.Event()
            self.seen = 0
            self.reached = threading.Event()

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            import asyncio

            self.seen += 1
            if self.seen > 20:
                self.reached.set()
                while not self.gate.is_set():
                    await asyncio.sleep(0.01)
            return await super().handle_DATA(server, session, envelope)

    first = Held()
    relay = LocalController(first)
    relay.start()
    try:
        config = make_config(
            tmp_path,
            smtp={"host": "127.0.0.1", "port": relay.port, "tls": "none", "concurrency": 2},
        )
        db = store.open_store(config.store_path)
        load_week(config, db, NOW)
        with db.atomic():
            for i in range(60):
                store.insert_subscriber(db, f"r{i:02d}@example.org", "", [], NOW)
        week = week_window("2026-W47", config.tz)
        done: list[Any] = []
        sender = threading.Thread(
            target=lambda: done.append(
                send_edition(config, store.open_store(config.store_path), week, lambda: NOW)
            )
        )
        sender.start()
        assert first.reached.wait(60)  # mid-send: the ledger is being written
        copy = tmp_path / "backup.db"
        backup = backup_store(config, copy)
        first.gate.set()
        sender.join(60)
    finally:
        first.gate.set()
        relay.stop()
    assert backup.subscribers == 66
    # The original machine is lost; the copy is restored elsewhere and resumed.
    second = RecordingHandler()
    relay = LocalController(second)
    relay.start()
    try:
        elsewhere = make_config(
            tmp_path / "elsewhere",
            smtp={"host": "127.0.0.1", "port": relay.port, "tls": "none"},
        )
        restore_store(elsewhere, copy, NOW)
        restored = store.open_store(elsewhere.store_path)
        sent_before = {
            r["email"]
            for r in restored.query(
                "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
                "WHERE d.status = 'sent'"
            )
        }
        assert 0 < len(sent_before) < 66
        report = send_edition(elsewhere, restored, week, lambda: NOW)
        assert report is not None
    finally:
        relay.stop()
    resumed = Counter(m.rcpt_tos[0] for m in second.received)
    assert set(resumed.values()) == {1}  # each once
    assert set(resumed) | sent_before == {s.email for s in store.iter_subscribers(restored)}
    assert not set(resumed) & sent_before  # nobody the copy had as sent is sent again


def test_restore_checks_the_copy_first(config: Config, db: Any, tmp_path: Path) -> None:
    load_week(config, db, NOW)
    good = tmp_path / "good.db"
    backup_store(config, good)
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("hello")
    with pytest.raises(StoreError, match="not a digest store"):
        restore_store(config, not_a_store, NOW)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a digest store"):
        restore_store(config, other, NOW)
    torn = tmp_path / "torn.db"
    data = bytearray(good.read_bytes())
    data[4096 * 2 : 4096 * 2 + 512] = b"\xff" * 512  # a page scribbled over
    torn.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"integrity|not a digest store"):
        restore_store(config, torn, NOW)
    newer = tmp_path / "newer.db"
    shutil.copyfile(good, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('digest', 'm999_from_the_future', '2027-01-01')"
        )
    with pytest.raises(StoreError, match="newer digest"):
        restore_store(config, newer, NOW)
    # A send holding its lease elsewhere: the store is not replaced under it.
    edition = store.freeze_edition(db, "2026-W47", {}, [], NOW)
    lease = NOW + timedelta(minutes=10)
    store.insert_lock(db, edition, "1/1", "otherhost:4242:abcd", lease)
    with pytest.raises(StoreError, match="is running"):
        restore_store(config, good, NOW)


def test_an_older_copy_is_brought_up_to_date_and_the_store_it_replaces_is_kept(
    config: Config, db: Any, tmp_path: Path
) -> None:
    load_week(config, db, NOW)
    old = tmp_path / "old.db"
    backup_store(config, old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE suppressions")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm016_suppressions'")
    store.insert_subscriber(db, "after-the-backup@example.org", "", [], NOW)
    db.close()
    done = restore_store(config, old, NOW)
    assert done.migrated == ("m016_suppressions",)
    assert Path(done.previous).exists()
    restored = store.open_store(config.store_path)
    assert store.get_subscriber(restored, "after-the-backup@example.org") is None
    assert store.get_subscriber(restored, "ana.sousa@example.org") is not None
    assert store.suppression_count(restored) == 0


def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    runner = ClockedRunner()
    cfg = tmp_path / "c" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(cfg), "init", "--demo"]).exit_code == 0
    copy = tmp_path / "nightly.db"
    made = runner.invoke(cli, ["--config", str(cfg), "backup", str(copy)])
    assert made.exit_code == 0 and "6 subscribers" in made.output
    back = runner.invoke(cli, ["--config", str(cfg), "restore", str(copy)])
    assert back.exit_code == 0 and "kept at" in back.output
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not sqlite at all" * 100)
    refused = runner.invoke(cli, ["--config", str(cfg), "restore", str(broken)])
    assert refused.exit_code == 1 and "not a digest store" in refused.output
