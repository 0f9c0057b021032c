"""The sunset: readers with no sign of life are asked once, then lapse; signs of life,
the keep link (real, forged, expired), the dry runs, the lapsed status's migration."""

from __future__ import annotations

import email
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from starlette.testclient import TestClient

from digest import store
from digest.approval import run_weekly
from digest.cli import cli
from digest.config import Config
from digest.delivery import sending
from digest.delivery.sending import send_edition
from digest.readers.notices import send_queued
from digest.readers.sunset import plan_sunset, run_sunset
from digest.readers.unsubscribe import apply_preferences
from digest.store.columns import to_db_time
from digest.tokens import sign_token
from digest.web.app import create_app

from ..conftest import NOW, SECRET, ClockedRunner, make_config
from ..fixtures import load_week

WEEK = timedelta(weeks=1)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # a browser's empty form


@pytest.fixture
def sunset_config(tmp_path: Path) -> Config:
    return make_config(tmp_path, sunset={"after_editions": 4})


@pytest.fixture
def sdb(sunset_config: Config) -> Iterator[Database]:
    database = store.open_store(sunset_config.store_path)
    yield database
    database.close()


def _reader(db: Database, address: str, joined: datetime) -> int:
    return store.insert_subscriber(db, address, "", [], joined)


def _editions(db: Database, readers: dict[int, int], count: int = 10) -> None:
    """``count`` weekly editions, the last a week before NOW; reader id -> how many of
    the newest of them were delivered (sent) to that reader."""
    for n in range(count):
        at = NOW - (count - n) * WEEK
        edition = store.columns.insert_row(
            db,
            "editions",
            {
                "week": f"2026-W{n + 10:02d}",
                "subject": "s",
                "payload": "{}",
                "status": "sent",
                "created_at": to_db_time(at),
            },
        )
        for reader, newest in readers.items():
            if n >= count - newest:
                db.execute(
                    "INSERT INTO deliveries (edition_id, subscriber_id, variant, status, "
                    "updated_at) VALUES (?, ?, '', 'sent', ?)",
                    [edition, reader, to_db_time(at)],
                )
    db.conn.commit()


def _named(report: Any) -> dict[str, list[str]]:
    return {
        kind: [e.email for e in getattr(report, kind)]
        for kind in ("ask", "lapse", "waiting", "too_new")
    }


def _counts(db: Database) -> dict[str, int]:
    tables = [
        r[0]
        for r in db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: db.conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}


def _list(db: Database, config: Config) -> dict[str, int]:
    """A list of five: quiet for months, alive, confirmed long ago only, new, few copies."""
    old = NOW - 30 * WEEK
    ids = {
        "quiet@example.org": _reader(db, "quiet@example.org", old),
        "alive@example.org": _reader(db, "alive@example.org", old),
        "confirmed@example.org": _reader(db, "confirmed@example.org", old),
        "new@example.org": _reader(db, "new@example.org", NOW - 3 * WEEK),
        "few@example.org": _reader(db, "few@example.org", old),
    }
    store.add_event(db, ids["alive@example.org"], "preferences", "preferences", NOW - 2 * WEEK)
    store.add_event(db, ids["confirmed@example.org"], "confirmed", "signup", old)
    store.add_event(db, ids["new@example.org"], "subscribed", "import-csv", NOW - 3 * WEEK)
    _editions(
        db,
        {
            ids["quiet@example.org"]: 10,
            ids["alive@example.org"]: 10,
            ids["confirmed@example.org"]: 10,
            ids["new@example.org"]: 2,
            ids["few@example.org"]: 2,
        },
    )
    return ids


def test_readers_with_a_sign_of_life_are_never_proposed_and_new_ones_are_too_new(
    sunset_config: Config, sdb: Database
) -> None:
    _list(sdb, sunset_config)
    report = plan_sunset(sdb, sunset_config, NOW)
    assert _named(report) == {
        "ask": ["quiet@example.org", "confirmed@example.org"],  # a confirmation long ago
        "lapse": [],
        "waiting": [],
        "too_new": ["new@example.org", "few@example.org"],
    }
    assert report.alive == 1
    assert "no sign of life over the last 4 editions" in report.ask[0].why
    assert "2 of 4 editions delivered" in report.too_new[0].why


def test_off_by_default_judges_nobody(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    _list(db, config)
    report = run_sunset(db, config, NOW)
    assert report.off and not report.ask and report.summary().startswith("off")
    assert store.count_with_status(db, "active") == 5


def test_every_sign_of_life_counts_and_a_visit_alone_does_not(
    sunset_config: Config, sdb: Database
) -> None:
    ids = _list(sdb, sunset_config)
    quiet = store.get_subscriber_by_id(sdb, ids["quiet@example.org"])
    assert quiet is not None
    # the same topics saved again: no change, but the reader pressed the button
    apply_preferences(sdb, sunset_config, quiet, "save", [], NOW - WEEK)
    assert ("preferences", "preferences") in store.subscriber_events(sdb, quiet.id)
    asked = [e.email for e in plan_sunset(sdb, sunset_config, NOW).ask]
    assert asked == ["confirmed@example.org"]


def test_the_dry_run_names_them_and_changes_nothing(sunset_config: Config) -> None:
    db = store.open_store(sunset_config.store_path)
    _list(db, sunset_config)
    before = _counts(db)
    db.close()
    _write_config_file(sunset_config)
    result = ClockedRunner().invoke(
        cli,
        ["--config", str(sunset_config.path), "subscribers", "sunset", "--dry-run", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [e["email"] for e in data["ask"]] == ["quiet@example.org", "confirmed@example.org"]
    assert [e["email"] for e in data["too_new"]] == ["new@example.org", "few@example.org"]
    assert data["dry_run"] is True
    text = ClockedRunner().invoke(
        cli, ["--config", str(sunset_config.path), "subscribers", "sunset", "--dry-run"]
    )
    assert "would be asked: quiet@example.org" in text.output
    assert "too new: new@example.org" in text.output
    db = store.open_store(sunset_config.store_path)
    assert _counts(db) == before


def _write_config_file(config: Config) -> None:
    """The file the CLI reads, saying what `sunset_config` says."""
    config.path.write_text(
        '[newsletter]\nname = "The Weekly Wrap"\n'
        'from = "The Weekly Wrap <wrap@news.example.com>"\n'
        'base_url = "https://news.example.com/digest"\ntimezone = "America/Vancouver"\n'
        'postal_address = "100 Example Street, Vancouver"\n'
        '[store]\npath = "digest.db"\n[outbox]\npath = "outbox"\n[archive]\npath = "archive"\n'
        "[sunset]\nafter_editions = 4\n",
        encoding="utf-8",
    )


def _keep_links(config: Config) -> dict[str, str]:
    """recipient -> the keep link of each re-permission email in the outbox."""
    links = {}
    for path in sorted((config.outbox_path / "notices" / "sunset").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        text = message.get_payload()[0].get_payload(decode=True).decode()  # type: ignore[index, union-attr]
        found = re.search(r"https://news\.example\.com/digest/keep/\S+", text)
        assert found is not None, text
        links[str(message["To"])] = found.group(0)
    return links


def test_no_answer_in_30_days_lapses_the_reader_with_an_injected_clock(
    sunset_config: Config, sdb: Database
) -> None:
    ids = _list(sdb, sunset_config)
    asked = run_sunset(sdb, sunset_config, NOW)
    assert [e.email for e in asked.ask] == ["quiet@example.org", "confirmed@example.org"]
    # not sent yet: the clock does not start before the relay took the email
    later = plan_sunset(sdb, sunset_config, NOW + timedelta(days=40))
    assert [e.email for e in later.waiting] == ["quiet@example.org", "confirmed@example.org"]
    assert "waits for the relay" in later.waiting[0].why
    assert not later.ask and not later.lapse
    sent_at = NOW + timedelta(hours=1)
    assert send_queued(sunset_config, sdb, lambda: sent_at).sent == 2
    links = _keep_links(sunset_config)
    assert set(links) == {"quiet@example.org", "confirmed@example.org"}
    message = next((sunset_config.outbox_path / "notices" / "sunset").glob("*.eml"))
    assert "Do you still want The Weekly Wrap?" in message.read_text()
    headers = email.message_from_bytes(message.read_bytes())
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    leave = str(headers["List-Unsubscribe"]).strip().strip("<>")
    reader = store.get_subscriber(sdb, str(headers["To"]))
    assert reader is not None
    token = sign_token(SECRET, sunset_config.list_id, reader.id)
    assert leave == f"https://news.example.com/digest/unsubscribe/{token}"
    # asked once: a second run the next day asks nobody again
    assert not run_sunset(sdb, sunset_config, NOW + timedelta(days=1)).ask
    almost = run_sunset(sdb, sunset_config, sent_at + timedelta(days=29, hours=23))
    assert not almost.lapse and len(almost.waiting) == 2
    assert store.count_with_status(sdb, "lapsed") == 0
    # the confirmed reader answers (a preferences button) on day 20
    store.add_event(
        sdb, ids["confirmed@example.org"], "preferences", "preferences", NOW + timedelta(days=20)
    )
    done = run_sunset(sdb, sunset_config, sent_at + timedelta(days=30))
    assert [e.email for e in done.lapse] == ["quiet@example.org"]
    quiet = store.get_subscriber(sdb, "quiet@example.org")
    assert quiet is not None and quiet.status == "lapsed"
    assert store.subscriber_events(sdb, quiet.id)[-1] == ("lapsed", "sunset")
    kept = store.get_subscriber(sdb, "confirmed@example.org")
    assert kept is not None and kept.status == "active"
    # never a bounce: nothing counts against the address
    assert store.return_counts_by_subscriber(sdb).get(quiet.id, {}) == {}


def test_the_re_permission_email_speaks_the_editions_language(tmp_path: Path) -> None:
    config = make_config(tmp_path, sunset={"after_editions": 4}, newsletter={"language": "de"})
    db = store.open_store(config.store_path)
    _list(db, config)
    run_sunset(db, config, NOW)
    send_queued(config, db, lambda: NOW)
    message = next((config.outbox_path / "notices" / "sunset").glob("*.eml"))
    parsed = email.message_from_bytes(message.read_bytes())
    assert str(email.header.make_header(email.header.decode_header(parsed["Subject"]))) == (
        "Möchten Sie The Weekly Wrap weiterhin erhalten?"
    )


@pytest.fixture
def lapsed(sunset_config: Config) -> Iterator[tuple[Config, dict[str, str]]]:
    """The list after a sunset: quiet@ lapsed a month after its email, confirmed@ too."""
    db = store.open_store(sunset_config.store_path)
    _list(db, sunset_config)
    run_sunset(db, sunset_config, NOW)
    send_queued(sunset_config, db, lambda: NOW)
    run_sunset(db, sunset_config, NOW + timedelta(days=31))
    assert store.count_with_status(db, "lapsed") == 2
    db.close()
    yield sunset_config, _keep_links(sunset_config)


def _client(config: Config, now: datetime) -> TestClient:
    return TestClient(
        create_app(config, clock=lambda: now, send_queue=False),
        base_url="https://news.example.com",
    )


def _status(config: Config, address: str) -> str:
    db = store.open_store(config.store_path)
    try:
        found = store.get_subscriber(db, address)
        assert found is not None
        return str(found.status)
    finally:
        db.close()


def test_the_keep_link_brings_a_lapsed_reader_back_on_post_only(
    lapsed: tuple[Config, dict[str, str]],
) -> None:
    config, links = lapsed
    path = links["quiet@example.org"].removeprefix("https://news.example.com")
    with _client(config, NOW + timedelta(days=40)) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert "Keep sending it" in page.text and "q…t@example.org" in page.text
        assert _status(config, "quiet@example.org") == "lapsed"  # a GET changes nothing
        done = client.post(path, headers=FORM)
        assert done.status_code == 200 and "again" in done.text
        assert _status(config, "quiet@example.org") == "active"
        assert client.post(path, headers=FORM).status_code == 200  # twice is harmless
    db = store.open_store(config.store_path)
    quiet = store.get_subscriber(db, "quiet@example.org")
    assert quiet is not None
    events = store.subscriber_events(db, quiet.id)
    assert events[-2:] == [("kept", "keep-link"), ("kept", "keep-link")]
    # back, and alive: the next sunset does not ask them
    assert "quiet@example.org" not in [
        e.email for e in plan_sunset(db, config, NOW + timedelta(days=41)).ask
    ]
    assert _status(config, "confirmed@example.org") == "lapsed"  # the other one untouched


def test_a_forged_or_altered_keep_link_is_404_and_changes_nothing(
    lapsed: tuple[Config, dict[str, str]],
) -> None:
    config, links = lapsed
    real = links["quiet@example.org"].removeprefix("https://news.example.com")
    ask, _, signature = real.rpartition("/")[2].partition(".")
    other = links["confirmed@example.org"].rpartition("/")[2]
    forged = [
        f"/digest/keep/{ask}.{'A' * 22}",  # made-up signature
        f"/digest/keep/{int(ask) + 1}.{signature}",  # another ask, this signature
        f"/digest/keep/{other.partition('.')[0]}.{signature}",  # one reader's, another's ask
        f"/digest/keep/{ask}.{signature[:-1]}",  # cut short
        f"/digest/unsubscribe/{ask}.{signature}",  # another page's token
    ]
    db = store.open_store(config.store_path)
    before = _counts(db)
    db.close()
    with _client(config, NOW + timedelta(days=40)) as client:
        for path in forged:
            answer = client.post(path, data={"List-Unsubscribe": "One-Click"})
            if "/keep/" in path:
                assert answer.status_code == 404, path
    db = store.open_store(config.store_path)
    assert _counts(db) == before
    assert store.count_with_status(db, "lapsed") == 2


def test_an_expired_keep_link_or_one_after_leaving_is_410_and_changes_nothing(
    lapsed: tuple[Config, dict[str, str]],
) -> None:
    config, links = lapsed
    path = links["quiet@example.org"].removeprefix("https://news.example.com")
    with _client(config, NOW + timedelta(days=366)) as client:
        for answer in (client.get(path), client.post(path, headers=FORM)):
            assert answer.status_code == 410 and "expired" in answer.text
    assert _status(config, "quiet@example.org") == "lapsed"
    db = store.open_store(config.store_path)
    store.set_subscriber_status(db, "confirmed@example.org", "unsubscribed", NOW)
    db.close()
    other = links["confirmed@example.org"].removeprefix("https://news.example.com")
    with _client(config, NOW + timedelta(days=40)) as client:
        answer = client.post(other, headers=FORM)
        assert answer.status_code == 410 and "You left the list" in answer.text
    assert _status(config, "confirmed@example.org") == "unsubscribed"


def test_a_fresh_sign_up_confirmed_brings_a_lapsed_reader_back(
    lapsed: tuple[Config, dict[str, str]],
) -> None:
    from digest.readers.signup import SignupRequest, confirm, confirm_url, sign_up

    config, _ = lapsed
    db = store.open_store(config.store_path)
    later = NOW + timedelta(days=50)
    assert sign_up(db, config, SignupRequest("quiet@example.org"), later).emailed == "confirm"
    assert _status(config, "quiet@example.org") == "lapsed"  # nothing until they confirm
    signup_id = int(db.conn.execute("SELECT max(id) FROM signups").fetchone()[0])
    token = confirm_url(config, signup_id, "quiet@example.org", later).rpartition("/")[2]
    assert confirm(db, config, token, later).state == "valid"
    assert _status(config, "quiet@example.org") == "active"


def test_a_lapsed_reader_is_skipped_by_send_with_a_reason(config: Config) -> None:
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    readers = list(store.iter_subscribers(db))
    gone, later = readers[0], readers[1]
    store.change_subscriber(db, gone.id, NOW, "sunset", status="lapsed")
    week = sending.resolve_week(config, None, NOW)
    dry = send_edition(config, db, week, lambda: NOW, dry_run=True)
    assert dry is not None
    assert any("1 lapsed readers are not mailed" in w for w in dry.warnings)
    # frozen with `later` still active, who lapses before their copy goes out
    plan = sending._plan_week(config, db, week, None, False)
    assert plan is not None
    edition_id = sending._freeze(db, week.label, plan, NOW)
    store.change_subscriber(db, later.id, NOW, "sunset", status="lapsed")
    report = send_edition(config, db, week, lambda: NOW)
    assert report is not None
    skipped = dict(store.skipped_deliveries(db, edition_id))
    assert skipped[later.email].startswith("lapsed after the edition was frozen")
    assert gone.email not in skipped  # never in the ledger: not on the list this week
    outbox = " ".join(p.read_text() for p in (config.outbox_path / week.label).glob("*.eml"))
    assert gone.email not in outbox and later.email not in outbox
    assert readers[2].email in outbox


def test_the_weekly_run_has_a_sunset_step_and_its_dry_run_changes_nothing(
    sunset_config: Config,
) -> None:
    db = store.open_store(sunset_config.store_path)
    _list(db, sunset_config)
    before = _counts(db)
    db.close()
    dry = run_weekly(sunset_config, lambda: NOW, dry_run=True)
    step = next(s for s in dry.steps if s.name == "sunset")
    assert step.status == "would"
    assert step.said.startswith("2 readers would be asked")
    db = store.open_store(sunset_config.store_path)
    assert _counts(db) == before
    db.close()
    run = run_weekly(sunset_config, lambda: NOW)
    assert next(s for s in run.steps if s.name == "sunset").status == "done"
    names = [s.name for s in run.steps]
    assert names.index("sunset") < names.index("queued emails")  # its emails go out now
    assert len(list((sunset_config.outbox_path / "notices" / "sunset").glob("*.eml"))) == 2


def test_the_weekly_run_skips_the_sunset_when_off(config: Config) -> None:
    run = run_weekly(config, lambda: NOW, dry_run=True)
    step = next(s for s in run.steps if s.name == "sunset")
    assert step.status == "skipped" and "after_editions = 0" in step.said


def test_the_lapsed_migration_keeps_every_column_index_trigger_and_id(tmp_path: Path) -> None:
    from sqlite_utils.migrations import Migrations

    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    before = Migrations("digest")  # the store as it was before the lapsed status
    names = store.migrations._migrations
    at = next(i for i, m in enumerate(names) if m.name == "m021_lapsed_status")
    before._migrations.extend(names[:at])
    before.apply(old)
    # what another branch may have added meanwhile: a column, an index, a trigger
    old.execute("ALTER TABLE subscribers ADD COLUMN locale TEXT NOT NULL DEFAULT ''")
    old.execute("CREATE INDEX subscribers_locale ON subscribers (locale)")
    old.execute("CREATE TABLE audit (subscriber_id INTEGER, status TEXT)")
    old.execute(
        "CREATE TRIGGER subscribers_audit AFTER UPDATE OF status ON subscribers "
        "BEGIN INSERT INTO audit VALUES (new.id, new.status); END"
    )
    for n in (1, 2, 3):
        old.execute(
            "INSERT INTO subscribers (email, created_at, updated_at, locale) "
            f"VALUES ('r{n}@example.org', '', '', 'pt')"
        )
    old.execute(
        "INSERT INTO subscriber_events (subscriber_id, event, source, at) "
        "VALUES (1, 'active', 'cli', '')"
    )
    old.execute("DELETE FROM subscribers WHERE id = 3")  # forgotten: id 3 is never reused
    old.conn.commit()
    with pytest.raises(sqlite3.IntegrityError):
        old.execute("UPDATE subscribers SET status = 'lapsed' WHERE id = 1")
    old.close()
    db = store.open_store(path)
    columns = [c.name for c in db.table("subscribers").columns]
    assert "locale" in columns and "mailbox" in columns
    assert {i.name for i in db.table("subscribers").indexes} >= {
        "subscribers_locale",
        "subscribers_email",
        "subscribers_status",
        "subscribers_mailbox",
    }
    db.execute("UPDATE subscribers SET status = 'lapsed' WHERE id = 1")
    assert db.execute("SELECT * FROM audit").fetchall() == [(1, "lapsed")]  # the trigger
    assert store.subscriber_events(db, 1) == [("active", "cli")]
    assert db.execute("SELECT locale FROM subscribers WHERE id = 2").fetchone() == ("pt",)
    assert store.insert_subscriber(db, "new@example.org", "", [], NOW) == 4
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE subscribers SET status = 'gone' WHERE id = 2")
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
    again = store.open_store(path)  # applied once; a second open changes nothing
    assert again.execute("SELECT count(*) FROM subscribers").fetchone() == (3,)


def test_a_restore_of_a_copy_from_before_a_lapse_keeps_the_reader_lapsed(
    sunset_config: Config, tmp_path: Path
) -> None:
    from digest.backups import backup_store, restore_store

    db = store.open_store(sunset_config.store_path)
    ids = _list(db, sunset_config)
    copy = tmp_path / "before.db"
    backup_store(sunset_config, copy)
    store.change_subscriber(db, ids["quiet@example.org"], NOW, "sunset", status="lapsed")
    db.close()
    done = restore_store(sunset_config, copy, NOW)
    assert done.carried["lapsed"] == 1
    assert _status(sunset_config, "quiet@example.org") == "lapsed"  # never mailed again
    assert _status(sunset_config, "alive@example.org") == "active"


def test_a_proven_complaint_from_a_lapsed_reader_takes_them_off(tmp_path: Path) -> None:
    """Pressing "spam" on an old edition after lapsing: unsubscribed, so their keep link
    no longer brings them back."""
    from digest.returns.process import process_return_path

    from ..returned import _arf, _delivered_to, _maildir, _reader, _sent, _setup, _verp

    config, db = _setup(tmp_path, sunset={"after_editions": 4})
    reader = _reader(db, "quiet@gmail.com")
    edition = _sent(db, "2026-W47", reader)
    store.change_subscriber(db, reader.id, NOW, "sunset", status="lapsed")
    raw = _delivered_to(_arf("abuse", "quiet@gmail.com"), _verp(config, reader, edition))
    process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", [raw]))
    assert _status(config, "quiet@gmail.com") == "unsubscribed"
    assert store.left_by_complaint(db, reader.id)


def test_a_lapsed_reader_is_kept_off_by_add_import_and_digests_own_csv(
    sunset_config: Config, sdb: Database, tmp_path: Path
) -> None:
    import io

    from digest.errors import SubscriberKeptError
    from digest.readers.subscribers import add_subscriber, export_subscribers, import_subscribers

    ids = _list(sdb, sunset_config)
    store.change_subscriber(sdb, ids["quiet@example.org"], NOW, "sunset", status="lapsed")
    with pytest.raises(SubscriberKeptError, match="lapsed"):
        add_subscriber(sdb, sunset_config, "quiet@example.org", "", "", NOW)
    out = io.StringIO()
    export_subscribers(sdb, out)
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(out.getvalue(), encoding="utf-8")
    again = import_subscribers(sdb, csv_file, NOW, sunset_config)
    assert again.skipped == 0 and _status(sunset_config, "quiet@example.org") == "lapsed"
    elsewhere = make_config(tmp_path / "other")
    other = store.open_store(elsewhere.store_path)
    moved = import_subscribers(other, csv_file, NOW, elsewhere)
    assert moved.skipped == 0 and moved.states["unsubscribed"] == 1  # mails nobody there
    found = store.get_subscriber(other, "quiet@example.org")
    assert found is not None and found.status == "unsubscribed"


def test_keep_pressed_before_the_30_days_end_the_reader_is_never_lapsed(
    sunset_config: Config, sdb: Database
) -> None:
    _list(sdb, sunset_config)
    run_sunset(sdb, sunset_config, NOW)
    send_queued(sunset_config, sdb, lambda: NOW)
    path = _keep_links(sunset_config)["quiet@example.org"].removeprefix("https://news.example.com")
    with _client(sunset_config, NOW + timedelta(days=3)) as client:
        answer = client.post(path, headers=FORM)
        assert answer.status_code == 200 and "stays on its way" in answer.text
    later = run_sunset(sdb, sunset_config, NOW + timedelta(days=31))
    assert [e.email for e in later.lapse] == ["confirmed@example.org"]
    assert _status(sunset_config, "quiet@example.org") == "active"


def test_subscribers_sunset_asks_and_sends_the_emails_at_once(sunset_config: Config) -> None:
    db = store.open_store(sunset_config.store_path)
    ids = _list(db, sunset_config)
    db.close()
    _write_config_file(sunset_config)
    args = ["--config", str(sunset_config.path), "subscribers", "sunset"]
    refused = ClockedRunner().invoke(cli, args, env={"DIGEST_SECRET": ""})
    assert refused.exit_code == 1  # a keep link `serve` could never verify: nobody asked
    assert "2 readers were not asked: DIGEST_SECRET is not set" in refused.output
    assert not (sunset_config.outbox_path / "notices").exists()
    result = ClockedRunner().invoke(cli, args, env={"DIGEST_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    assert "Sunset: 2 readers were asked" in result.output
    assert "asked: quiet@example.org" in result.output
    assert set(_keep_links(sunset_config)) == {"quiet@example.org", "confirmed@example.org"}
    with _client(sunset_config, NOW) as client:  # a lapsed reader's own preferences page
        db = store.open_store(sunset_config.store_path)
        store.change_subscriber(db, ids["quiet@example.org"], NOW, "sunset", status="lapsed")
        db.close()
        token = sign_token(SECRET, sunset_config.list_id, ids["quiet@example.org"])
        page = client.get(f"/digest/preferences/{token}")
        assert "not sent any more" in page.text and "Resubscribe" in page.text
        client.post(f"/digest/preferences/{token}", data={"action": "resubscribe"})
    assert _status(sunset_config, "quiet@example.org") == "active"
