"""The sender as a process, SIGKILLed at random points while 1,000 reader changes are
reported: every event arrives at least once, in order, each duplicate under the same
webhook-id with the same body; none lost."""

import json
import os
import random
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from digest import store
from digest.hooks.endpoints import add_endpoint
from digest.readers.subscribers import add_subscriber

from ..conftest import NOW, REPO, SECRET, make_config
from .receiver import receiver

pytestmark = pytest.mark.slow  # real sender processes, killed: a system test

SENDER = """
import sys
from datetime import datetime
from digest import store
from pathlib import Path
from digest.config import load_config
from digest.hooks.sender import deliver

config = load_config(Path(sys.argv[1]))
now = datetime.fromisoformat(sys.argv[2])
with store.open_store(config.store_path) as db:
    report = deliver(db, config, lambda: now)
sys.exit(3 if report.busy else 0)  # held by a lease a killed sender left: not done
"""

CONFIG = """
[newsletter]
name = "The Weekly Wrap"
from = "The Weekly Wrap <wrap@news.example.com>"
base_url = "https://news.example.com/digest"
postal_address = "100 Example Street, Vancouver"
[store]
path = "digest.db"
[webhooks]
allow_private_targets = true
"""


def test_sigkill_of_the_sender_loses_no_event_and_a_duplicate_keeps_its_id(
    tmp_path: Path,
) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = make_config(tmp_path, webhooks={"allow_private_targets": True})
    chance = random.Random(34)
    readers = 100
    with receiver() as hook:
        db = store.open_store(config.store_path)
        add_endpoint(db, config, hook.url, ["subscriber.unsubscribed,subscriber.confirmed"], NOW)
        for n in range(readers):
            add_subscriber(db, config, f"r{n}@example.org", "", "", NOW)
        expected: list[str] = []
        kills = starts = 0
        process: subprocess.Popen[bytes] | None = None
        kill_at: set[int] = set()

        def answer(_: object) -> int:
            if len(hook.got) in kill_at and process is not None:
                os.kill(process.pid, signal.SIGKILL)  # mid-request: no answer reaches it
            return 200

        hook.answer = answer
        for round_ in range(10):
            for n in range(readers):  # 100 changes a round, 1,000 in all
                status = "unsubscribed" if round_ % 2 == 0 else "active"
                store.change_subscriber(db, n + 1, NOW, "cli", status=status)
            expected += [
                r[0]
                for r in db.execute("SELECT msg_id FROM hook_events ORDER BY id").fetchall()
                if r[0] not in expected
            ]
            start = len(hook.got)
            kill_at = {start + chance.randrange(1, 120)}
            while True:
                starts += 1  # each start later than the lease a killed one left (60 s)
                at = NOW + timedelta(minutes=2 * starts)
                process = subprocess.Popen(
                    [sys.executable, "-c", SENDER, str(path), at.isoformat()],
                    cwd=REPO,
                    env={**os.environ, "DIGEST_SECRET": SECRET},
                    stderr=subprocess.DEVNULL,
                )
                code = process.wait(timeout=120)
                if code == 0:
                    break
                assert code == -signal.SIGKILL
                kills += 1
        db.close()
    assert len(expected) == 1000 and kills >= 5
    ids = [r.headers["webhook-id"] for r in hook.got]
    first_seen = list(dict.fromkeys(ids))
    assert first_seen == expected  # every event, in the order written: 0 lost
    bodies: dict[str, bytes] = {}
    for r in hook.got:  # a duplicate is the same event: same id, same bytes
        assert bodies.setdefault(r.headers["webhook-id"], r.body) == r.body
    duplicates = len(ids) - len(first_seen)
    assert 0 < duplicates <= kills
    statuses = [json.loads(bodies[i])["data"]["status"] for i in first_seen]
    assert statuses == [s for s in ("unsubscribed", "active") * 5 for _ in range(readers)]
