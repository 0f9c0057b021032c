"""The whole pipeline against a real SMTP server (aiosmtpd) on 127.0.0.1."""

import email.policy
import re
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import ConfigError, DeliveryError
from digest.tokens import verify_token

from ..conftest import NOW, SECRET, make_config
from ..fixtures import load_week


def _smtp_config(tmp_path: Path, port: int, **extra: Any) -> Any:
    smtp = {"host": "127.0.0.1", "port": port, "tls": "none", "concurrency": 2, "timeout": 5}
    smtp.update(extra)
    return make_config(tmp_path, smtp=smtp)


def test_send_delivers_every_subscriber_once_with_both_parts(
    tmp_path: Path, smtp_server: Any
) -> None:
    controller, handler = smtp_server
    config = _smtp_config(tmp_path, controller.port)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)

    report = send_edition(config, db, week, lambda: NOW)

    assert report is not None and report.count("sent") == 6
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(
        s.email for s in store.iter_subscribers(db)
    )
    ids = set()
    for received in handler.received:
        assert received.mail_from == "wrap@news.example.com"
        msg = message_from_bytes(received.data, policy=email.policy.default)
        subscriber = store.get_subscriber(db, received.rcpt_tos[0])
        assert subscriber is not None
        text_part, html_part = msg.iter_parts()
        text, html = text_part.get_content(), html_part.get_content()
        # The unsubscribe URL is this subscriber's own, signed, in header and both parts.
        token = re.search(r"/unsubscribe/([\w.-]+)>", str(msg["List-Unsubscribe"])).group(1)
        assert verify_token(SECRET, config.list_id, token) == subscriber.id
        assert f"/unsubscribe/{token}" in text and f"/unsubscribe/{token}" in html
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert 'style="' in html or "style='" in html  # inlined
        assert "@media only screen" in html
        assert "100 Example Street" in text and "100 Example Street" in html
        ids.add(msg["Message-ID"])
    assert len(ids) == 6

    chen = next(r for r in handler.received if r.rcpt_tos == ["chen.wei@example.com"])
    html = (
        message_from_bytes(chen.data, policy=email.policy.default).get_body(("html",)).get_content()
    )
    assert "Cybersecurity" in html and "IPv4 Markets" not in html  # chose DNS + Cybersecurity

    again = send_edition(config, db, week, lambda: NOW)
    assert again is not None and again.already_sent
    assert len(handler.received) == 6  # the re-send sent nothing


def test_refused_recipient_is_bounced_and_the_rest_delivered(
    tmp_path: Path, smtp_server: Any
) -> None:
    controller, handler = smtp_server
    handler.refuse["ben.hughes@example.org"] = "550 5.1.1 No such user"
    handler.refuse["ana.sousa@example.org"] = "451 4.3.0 Try again later"
    config = _smtp_config(tmp_path, controller.port, retries=1)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)

    report = send_edition(config, db, week, lambda: NOW)

    assert report is not None
    assert (report.count("sent"), report.count("bounced"), report.count("deferred")) == (4, 1, 1)
    assert store.get_subscriber(db, "ben.hughes@example.org").status == "bounced"  # type: ignore[union-attr]
    assert store.get_subscriber(db, "ana.sousa@example.org").status == "active"  # type: ignore[union-attr]
    # The deferred one goes out on the next run once the relay accepts it; nobody twice.
    del handler.refuse["ana.sousa@example.org"]
    resumed = send_edition(config, db, week, lambda: NOW)
    assert resumed is not None and resumed.count("sent") == 5
    recipients = [r.rcpt_tos[0] for r in handler.received]
    assert len(recipients) == len(set(recipients)) == 5
    assert "ben.hughes@example.org" not in recipients


def test_smtp_send_without_a_secret_refuses_to_start(tmp_path: Path, smtp_server: Any) -> None:
    controller, _ = smtp_server
    config = make_config(tmp_path, env={}, smtp={"host": "127.0.0.1", "port": controller.port})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(ConfigError, match="DIGEST_SECRET is not set"):
        send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)


def test_unreachable_relay_stops_the_run_and_keeps_the_ledger(tmp_path: Path) -> None:
    from ..conftest import free_port

    config = _smtp_config(tmp_path, free_port(), retries=0, concurrency=1)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(DeliveryError, match=r"cannot connect to 127.0.0.1:\d+.*send --resume"):
        send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    edition = store.get_edition(db, "2026-W47")
    assert edition is not None
    counts = store.delivery_counts(db, edition.id)
    assert counts.get("sent", 0) == 0 and sum(counts.values()) == 6


@pytest.mark.parametrize("smtputf8", [True, False], ids=["relay-with-smtputf8", "relay-without"])
def test_international_addresses_never_stop_a_run(tmp_path: Path, smtputf8: bool) -> None:
    from digest.readers.subscribers import add_subscriber

    from ..conftest import LocalController, RecordingHandler

    handler = RecordingHandler()
    controller = LocalController(handler, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        config = _smtp_config(tmp_path, controller.port)
        db = store.open_store(config.store_path)
        load_week(config, db, NOW)
        assert add_subscriber(db, config, "erin@exämple.org", "Erin", "", NOW) == (
            "erin@xn--exmple-cua.org",
            "added",
        )
        assert (
            add_subscriber(db, config, "jörg@example.org", "Jörg", "", NOW)[0] == "jörg@example.org"
        )
        # A row stored before domains were kept in ASCII goes out in ASCII too.
        store.insert_subscriber(db, "old@bücher.example", "", [], NOW)
        report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    finally:
        controller.stop()
    assert report is not None
    received = {r.rcpt_tos[0]: r for r in handler.received}
    assert "erin@xn--exmple-cua.org" in received
    assert "old@xn--bcher-kva.example" in received
    if smtputf8:
        assert report.count("sent") == 9 and report.count("failed") == 0
        raw = received["jörg@example.org"].data
        parsed = message_from_bytes(raw, policy=email.policy.SMTPUTF8)
        assert "jörg@example.org" in str(parsed["To"])
    else:
        assert report.count("sent") == 8 and report.count("failed") == 1
        assert "jörg@example.org" not in received
        row = next(db.query("SELECT last_error FROM deliveries WHERE status = 'failed'"))
        assert "does not offer SMTPUTF8" in row["last_error"]
    assert store.get_subscriber(db, "jörg@example.org").status == "active"  # type: ignore[union-attr]
