"""`digest restore` as an attacker and an unlucky operator try it: an older copy never
undoes a reader's leaving nor the ledger of what was sent, and only a store whose schema
is digest's own takes the store's place."""

import shutil
import sqlite3
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
from digest.readers.subscribers import remove_subscriber
from digest.readers.unsubscribe import unsubscribe

from .conftest import NOW, ClockedRunner, LocalController, RecordingHandler, make_config
from .fixtures import load_week

WEEK = "2026-W47"


def _status(config: Config, email: str) -> str | None:
    db = store.open_store(config.store_path)
    try:
        found = store.get_subscriber(db, email)
        return found.status if found else None
    finally:
        db.close()


# ---------------------------------------------------------------- what readers said since


def test_a_reader_removed_after_the_backup_stays_removed(config: Config, tmp_path: Path) -> None:
    db = store.open_store(config.store_path)
    for i in range(5):
        store.insert_subscriber(db, f"r{i}@example.org", "", [], NOW)
    copy = tmp_path / "before.db"
    backup_store(config, copy)
    remove_subscriber(db, config, "r1@example.org", NOW)  # unsubscribed
    remove_subscriber(db, config, "r2@example.org", NOW, forget=True)  # erased
    store.bounce_subscribers(db, [store.get_subscriber(db, "r3@example.org").id], NOW)  # type: ignore[union-attr]
    store.insert_subscriber(db, "late@example.org", "", [], NOW)
    remove_subscriber(db, config, "late@example.org", NOW)  # joined and left since the copy
    db.close()

    done = restore_store(config, copy, NOW)

    assert _status(config, "r0@example.org") == "active"
    assert _status(config, "r1@example.org") == "unsubscribed"
    assert _status(config, "r2@example.org") is None  # erased stays erased
    assert _status(config, "r3@example.org") == "bounced"
    assert _status(config, "r4@example.org") == "active"
    assert _status(config, "late@example.org") == "unsubscribed"  # kept, so no import adds them
    carried = done.carried
    assert carried["unsubscribed"] == 2 and carried["bounced"] == 1
    assert carried["erased"] == 1 and carried["suppressions"] == 1
    restored = store.open_store(config.store_path)
    r1 = store.get_subscriber(restored, "r1@example.org")
    assert r1 is not None and ("unsubscribed", "cli") in store.subscriber_events(restored, r1.id)
    restored.close()


def test_a_one_click_unsubscribe_and_a_complaint_after_the_backup_survive_it(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    a = store.insert_subscriber(db, "a@example.org", "", [], NOW)
    b = store.insert_subscriber(db, "b@example.org", "", [], NOW)
    copy = tmp_path / "before.db"
    backup_store(config, copy)
    unsubscribe(db, store.get_subscriber_by_id(db, a), NOW, "one-click")  # type: ignore[arg-type]
    store.change_subscriber(db, b, NOW, "webhook", status="unsubscribed", event="complaint")
    db.close()
    restore_store(config, copy, NOW)
    assert _status(config, "a@example.org") == "unsubscribed"
    assert _status(config, "b@example.org") == "unsubscribed"
    restored = store.open_store(config.store_path)
    assert store.left_by_complaint(restored, b)
    restored.close()


def test_a_restore_onto_an_unrelated_store_brings_no_one_back_nor_erases_anyone(
    tmp_path: Path,
) -> None:
    first = make_config(tmp_path / "one")
    db = store.open_store(first.store_path)
    store.insert_subscriber(db, "kept@example.org", "", [], NOW)
    db.close()
    copy = tmp_path / "copy.db"
    backup_store(first, copy)
    # A new machine where `init --demo` made its own store first: nobody there is the
    # copy's reader, so nobody of the copy is taken for erased.
    second = make_config(tmp_path / "two")
    other = store.open_store(second.store_path)
    store.insert_subscriber(other, "demo@example.org", "", [], NOW)
    store.insert_subscriber(other, "left@example.org", "", [], NOW, "unsubscribed")
    other.close()
    done = restore_store(second, copy, NOW)
    assert _status(second, "kept@example.org") == "active"
    assert _status(second, "demo@example.org") is None  # joined the other store only
    assert _status(second, "left@example.org") == "unsubscribed"  # a leaving is kept anyway
    assert done.carried["erased"] == 0


def test_a_store_that_cannot_be_read_is_replaced_only_when_told(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    store.insert_subscriber(db, "a@example.org", "", [], NOW)
    db.close()
    copy = tmp_path / "before.db"
    backup_store(config, copy)
    config.store_path.write_bytes(b"scribbled over" * 1000)
    with pytest.raises(StoreError, match=r"cannot be read.*--discard-current"):
        restore_store(config, copy, NOW)
    done = restore_store(config, copy, NOW, discard_current=True)
    assert done.carried == {} and "nothing was carried over" in " ".join(done.notes)
    assert _status(config, "a@example.org") == "active"


# ---------------------------------------------------------------- the ledger of what was sent


def test_a_send_then_a_restore_of_a_copy_from_before_it_mails_nobody_again(
    tmp_path: Path,
) -> None:
    handler = RecordingHandler()
    relay = LocalController(handler)
    relay.start()
    try:
        config = make_config(
            tmp_path, smtp={"host": "127.0.0.1", "port": relay.port, "tls": "none"}
        )
        db = store.open_store(config.store_path)
        load_week(config, db, NOW)
        copy = tmp_path / "before-the-send.db"
        backup_store(config, copy)
        week = week_window(WEEK, config.tz)
        report = send_edition(config, db, week, lambda: NOW)
        assert report is not None
        mailed = len(handler.received)
        assert mailed > 0
        db.close()
        done = restore_store(config, copy, NOW)
        assert done.carried["editions"] == 1 and done.carried["deliveries"] == mailed
        restored = store.open_store(config.store_path)
        dry = send_edition(config, restored, week, lambda: NOW, dry_run=True)
        assert dry is not None and dry.already_sent
        again = send_edition(config, restored, week, lambda: NOW)
        assert again is not None and again.already_sent
        restored.close()
    finally:
        relay.stop()
    assert len(handler.received) == mailed  # not one message more


def test_a_copy_taken_mid_send_restored_after_the_send_finished_sends_nobody_twice(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    edition = store.freeze_edition(db, WEEK, {}, [], NOW)
    ids = [s.id for s in store.iter_subscribers(db)]
    for i, sid in enumerate(ids):
        db.execute(
            "INSERT INTO deliveries (edition_id, subscriber_id, variant, status, updated_at) "
            "VALUES (?, ?, '', ?, ?)",
            [edition, sid, "sent" if i < 2 else "pending", store.to_db_time(NOW)],
        )
    db.conn.commit()
    copy = tmp_path / "mid-send.db"
    backup_store(config, copy)
    db.execute("UPDATE deliveries SET status = 'sent', attempts = 1")
    db.execute("UPDATE editions SET status = 'sent', finished_at = ?", [store.to_db_time(NOW)])
    # One who joined after the copy, was sent the edition, and bounced it.
    late = store.insert_subscriber(db, "late@example.org", "", [], NOW)
    db.execute(
        "INSERT INTO deliveries (edition_id, subscriber_id, variant, status, updated_at) "
        "VALUES (?, ?, '', 'sent', ?)",
        [edition, late, store.to_db_time(NOW)],
    )
    store.change_subscriber(db, late, NOW, "smtp", status="bounced", edition_id=edition)
    db.conn.commit()
    db.close()
    done = restore_store(config, copy, NOW)
    assert done.carried["deliveries"] == len(ids) - 2 + 1 and done.carried["bounced"] == 1
    restored = store.open_store(config.store_path)
    frozen = store.get_edition(restored, WEEK)
    assert frozen is not None and frozen.status == "sent"
    assert store.delivery_counts(restored, frozen.id) == {"sent": len(ids) + 1}
    kept = store.get_subscriber(restored, "late@example.org")
    assert kept is not None and kept.status == "bounced"
    assert store.return_counts_by_edition(restored) == {frozen.id: {"bounced": 1}}
    restored.close()


def test_a_one_off_email_sent_after_the_backup_is_not_sent_again(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    sid = store.insert_subscriber(db, "new@example.org", "", [], NOW, "pending")
    sent = store.queue_email(db, "confirm", "new@example.org", b"x", NOW, subscriber_id=sid)
    waiting = store.queue_email(db, "welcome", "new@example.org", b"y", NOW, subscriber_id=sid)
    copy = tmp_path / "before.db"
    backup_store(config, copy)
    store.record_email(db, sent, "sent", "", NOW)
    db.close()
    done = restore_store(config, copy, NOW)
    assert done.carried["emails"] == 1
    restored = store.open_store(config.store_path)
    assert [e.id for e in store.queued_emails(restored)] == [waiting]
    restored.close()


# ---------------------------------------------------------------- a crafted or torn copy


def _crafted(config: Config, tmp_path: Path, name: str, *statements: str) -> Path:
    db = store.open_store(config.store_path)
    db.close()
    path = tmp_path / name
    backup_store(config, path)
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    return path


def test_a_copy_with_a_trigger_that_resubscribes_is_refused(config: Config, tmp_path: Path) -> None:
    crafted = _crafted(
        config,
        tmp_path,
        "trigger.db",
        "CREATE TRIGGER stay AFTER UPDATE OF status ON subscribers "
        "BEGIN UPDATE subscribers SET status = 'active' WHERE id = new.id; END",
    )
    with pytest.raises(StoreError, match=r"not digest's own.*trigger stay"):
        restore_store(config, crafted, NOW)
    # One hidden under a name SQLite keeps for itself (written into the schema directly).
    hidden = tmp_path / "hidden.db"
    backup_store(config, hidden)
    with sqlite3.connect(hidden) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES "
            "('trigger', 'sqlite_stay', 'subscribers', 0, 'CREATE TRIGGER sqlite_stay AFTER "
            "UPDATE ON subscribers BEGIN UPDATE subscribers SET status = ''active''; END')"
        )
    with pytest.raises(StoreError, match=r"trigger sqlite_stay is not digest's|not a digest"):
        restore_store(config, hidden, NOW)


def test_a_copy_with_a_view_in_place_of_a_table_is_refused(config: Config, tmp_path: Path) -> None:
    crafted = _crafted(
        config,
        tmp_path,
        "view.db",
        "DROP TABLE suppressions",
        "CREATE VIEW suppressions AS SELECT '' AS hash, '' AS reason, '' AS created_at WHERE 0",
    )
    with pytest.raises(StoreError, match=r"view suppressions.*table suppressions is missing"):
        restore_store(config, crafted, NOW)


def test_a_copy_with_missing_or_foreign_tables_is_refused(config: Config, tmp_path: Path) -> None:
    missing = _crafted(config, tmp_path, "missing.db", "DROP TABLE deliveries")
    with pytest.raises(StoreError, match="table deliveries is missing"):
        restore_store(config, missing, NOW)
    foreign = _crafted(config, tmp_path, "foreign.db", "CREATE TABLE extra (x)")
    with pytest.raises(StoreError, match="table extra"):
        restore_store(config, foreign, NOW)
    changed = _crafted(
        config,
        tmp_path,
        "changed.db",
        "DROP INDEX subscribers_email",
        "CREATE INDEX subscribers_email ON subscribers (email)",  # no longer unique
    )
    with pytest.raises(StoreError, match="index subscribers_email differs"):
        restore_store(config, changed, NOW)


def test_a_cp_copy_with_its_wal_beside_it_keeps_the_last_writes(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    store.insert_subscriber(db, "early@example.org", "", [], NOW)
    db.execute("PRAGMA wal_autocheckpoint = 0")
    holder = sqlite3.connect(config.store_path)  # keeps the log from being folded in
    holder.execute("SELECT count(*) FROM subscribers").fetchone()
    store.insert_subscriber(db, "last-write@example.org", "", [], NOW)
    assert Path(f"{config.store_path}-wal").stat().st_size > 0
    saved = tmp_path / "saved"
    saved.mkdir()
    copy = saved / "digest.db"
    shutil.copyfile(config.store_path, copy)  # `cp digest.db*`
    shutil.copyfile(f"{config.store_path}-wal", f"{copy}-wal")
    holder.close()
    db.close()
    restore_store(config, copy, NOW)
    assert _status(config, "early@example.org") == "active"
    assert _status(config, "last-write@example.org") == "active"


def test_restore_from_the_command_line_says_what_it_carried_over(tmp_path: Path) -> None:
    runner = ClockedRunner()
    cfg = tmp_path / "c" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(cfg), "init", "--demo"]).exit_code == 0
    copy = tmp_path / "nightly.db"
    assert runner.invoke(cli, ["--config", str(cfg), "backup", str(copy)]).exit_code == 0
    listed = runner.invoke(cli, ["--config", str(cfg), "subscribers", "list", "--json"])
    first = listed.output.split('"email": "')[1].split('"')[0]
    left = runner.invoke(cli, ["--config", str(cfg), "subscribers", "remove", first])
    assert left.exit_code == 0
    back = runner.invoke(cli, ["--config", str(cfg), "restore", str(copy)])
    assert back.exit_code == 0, back.output
    assert "Carried over from the store it replaced: 1 unsubscribed" in back.output
    status: Any = runner.invoke(cli, ["--config", str(cfg), "subscribers", "list", "--json"])
    assert f'"email": "{first}"' in status.output
    assert '"status": "unsubscribed"' in status.output
