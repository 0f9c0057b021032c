"""The pages' store connections: reused, one thread at a time, nothing left open between
requests, and a restored store seen at once."""

import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.tokens import sign_token
from digest.web.app import create_app
from digest.web.stores import StorePool

from ..conftest import NOW, SECRET
from ..fixtures import load_week

ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _count(db: Any) -> int:
    return int(db.execute("SELECT count(*) FROM suppressions").fetchone()[0])


def test_a_connection_is_reused_and_its_writes_are_seen_by_other_connections(
    tmp_path: Path,
) -> None:
    pool = StorePool(tmp_path / "d.db")
    for n in range(3):
        pool.run(lambda db, n=n: store.suppress(db, f"hash-{n}", "erased", NOW))
    assert pool.opened == 1
    other = store.open_store(tmp_path / "d.db")
    assert _count(other) == 3
    # A write from elsewhere is seen by the next piece of work on the reused connection.
    store.suppress(other, "from-elsewhere", "erased", NOW)
    assert pool.run(_count) == 4
    other.close()
    pool.close()


def test_what_work_leaves_uncommitted_is_rolled_back_not_kept_open(tmp_path: Path) -> None:
    pool = StorePool(tmp_path / "d.db")

    def half_done(db: Any) -> None:
        db.conn.execute("INSERT INTO suppressions VALUES ('h', 'erased', '2026')")
        assert db.conn.in_transaction

    pool.run(half_done)
    assert pool.run(lambda db: db.conn.in_transaction) is False
    other = store.open_store(tmp_path / "d.db")
    store.suppress(other, "writer-not-blocked", "erased", NOW)  # no lock left held
    assert _count(other) == 1
    other.close()
    pool.close()


def test_threads_working_at_once_never_share_a_connection(tmp_path: Path) -> None:
    pool = StorePool(tmp_path / "d.db")
    pool.run(_count)
    together = threading.Barrier(4, timeout=30)
    seen: list[int] = []

    def work(db: Any) -> None:
        seen.append(id(db.conn))
        together.wait()  # all four hold their connection at the same time
        _count(db)

    threads = [threading.Thread(target=pool.run, args=(work,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 4 and pool.opened == 4
    pool.run(_count)  # and then reused, from any thread
    assert pool.opened == 4
    pool.close()


def test_a_connection_that_raised_a_sqlite_error_is_not_given_back(tmp_path: Path) -> None:
    pool = StorePool(tmp_path / "d.db")
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        pool.run(lambda db: db.execute("SELECT * FROM no_such_table"))
    pool.run(_count)
    assert pool.opened == 2
    pool.close()


def test_one_click_after_a_restore_changes_the_restored_store(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    db.close()
    copy = tmp_path / "copy.db"
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with TestClient(app, base_url="https://news.example.com") as client:
        url = f"/digest/unsubscribe/{sign_token(SECRET, config.list_id, 1)}"
        assert client.get(url).status_code == 200  # the pages' connection is open now
        shutil.copyfile(config.store_path, copy)
        os.replace(copy, config.store_path)  # as `digest restore` puts a copy in place
        assert client.post(url, content=ONE_CLICK, headers=FORM).status_code == 200
    restored = store.open_store(config.store_path)
    found = store.get_subscriber_by_id(restored, 1)
    assert found is not None and found.status == "unsubscribed"
    restored.close()
