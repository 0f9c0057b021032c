"""`send --test`: a [TEST] copy to chosen addresses, nothing frozen, the real send unaffected."""

import email.policy
from email import message_from_bytes
from pathlib import Path
from typing import Any

from digest import store
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition, send_test

from ..conftest import NOW, make_config
from ..fixtures import load_week


def test_test_copy_goes_only_to_the_editors_and_freezes_nothing(
    tmp_path: Path, smtp_server: Any
) -> None:
    controller, handler = smtp_server
    config = make_config(
        tmp_path, smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none"}
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)

    report = send_test(
        config, db, week, ["editor@example.com", "chen.wei@example.com"], lambda: NOW
    )

    assert report is not None and sorted(report.sent) == [
        "chen.wei@example.com",
        "editor@example.com",
    ]
    assert store.get_edition(db, week.label) is None  # not frozen, no ledger
    assert not list(db.query("SELECT * FROM deliveries"))
    tests = {
        r.rcpt_tos[0]: message_from_bytes(r.data, policy=email.policy.default)
        for r in handler.received
    }
    assert all(str(m["Subject"]).startswith("[TEST] The Weekly Wrap") for m in tests.values())
    chen = tests["chen.wei@example.com"].get_body(("html",)).get_content()
    assert "IPv4 Markets" not in chen  # a subscriber's test copy is their own variant
    test_ids = {str(m["Message-ID"]) for m in tests.values()}

    real = send_edition(config, db, week, lambda: NOW)
    assert real is not None and real.count("sent") == 6
    real_ids = {str(message_from_bytes(r.data)["Message-ID"]) for r in handler.received[2:]}
    assert not test_ids & real_ids  # receivers never drop the real one as a duplicate
    subjects = [str(message_from_bytes(r.data)["Subject"]) for r in handler.received[2:]]
    assert not any("[TEST]" in s for s in subjects)
