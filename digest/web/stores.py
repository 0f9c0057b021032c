"""The pages' store connections: opened once (WAL, pragmas, the migration check) and
reused, each by one worker thread at a time, instead of opened on every request.

- A connection is taken by one thread for one piece of work and given back; two
  threads never share one at once (there are as many as threads ever worked at once).
- What a piece of work leaves uncommitted is rolled back when it is given back, as
  closing the connection did: the next request starts with no transaction open, and
  sees every write committed since (WAL: a read sees the latest commit).
- A connection that raised a SQLite error is closed, not given back.
- When the file at the store's path is no longer the one a connection opened (a
  `digest restore` put another in its place), the connection is closed and the store
  opened again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database

from digest import store

T = TypeVar("T")
FileId = tuple[int, int]


class StorePool:
    """Store connections for the pages' worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: list[tuple[Database, FileId]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.opened = 0  # connections opened so far (for tests and the benchmark)

    def run(self, work: Callable[[Database], T]) -> T:
        """``work`` with a connection of its own for as long as it runs."""
        db, file_id = self._take()
        try:
            result = work(db)
        except sqlite3.Error:
            db.close()
            raise
        except BaseException:
            self._give_back(db, file_id)
            raise
        self._give_back(db, file_id)
        return result

    def close(self) -> None:
        """Close the idle connections; those in use close when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db, _ in idle:
            db.close()

    def _take(self) -> tuple[Database, FileId]:
        current = _file_id(self.path)
        stale: list[Database] = []
        found: tuple[Database, FileId] | None = None
        with self._lock:
            while self._idle:
                db, file_id = self._idle.pop()
                if file_id == current:
                    found = (db, file_id)
                    break
                stale.append(db)
        for db in stale:  # another file is at the path now: not this connection's
            db.close()
        if found is not None:
            return found
        db = store.open_store(self.path, any_thread=True)
        with self._lock:
            self.opened += 1
        return db, _file_id(self.path)

    def _give_back(self, db: Database, file_id: FileId) -> None:
        if db.conn.in_transaction:
            db.conn.rollback()  # as closing did: what the work left uncommitted goes
        with self._lock:
            if not self._closed:
                self._idle.append((db, file_id))
                return
        db.close()


def _file_id(path: Path) -> FileId:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)
