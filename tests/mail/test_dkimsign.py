"""DKIM: each message digest sends is signed, List-Unsubscribe and List-Unsubscribe-Post
among the signed headers (RFC 8058), and verifies against the published key."""

import re
from pathlib import Path
from typing import Any

import dkim
import pytest

from digest import store
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import ConfigError

from ..conftest import NOW, SECRET, make_config
from ..fixtures import load_week, rsa_key


def test_every_message_is_signed_and_verifies(tmp_path: Path, smtp_server: Any) -> None:
    controller, handler = smtp_server
    private, record = rsa_key(tmp_path)
    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_DKIM_PRIVATE_KEY": private},
        smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none"},
        dkim={"domain": "news.example.com", "selector": "wrap2026"},
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:  # the published record, stubbed
        asked.append(name)
        return record

    for received in handler.received:
        assert received.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(received.data, dnsfunc=dns)
        signature = received.data.split(b"\r\n\r\n", 1)[0].decode()
        signed = re.search(r"h=([^;]+);", signature.replace("\r\n", "").replace("\t", ""))
        assert signed is not None
        names = [h.strip().lower() for h in signed.group(1).split(":")]
        assert {"from", "list-unsubscribe", "list-unsubscribe-post", "feedback-id"} <= set(names)
        tampered = received.data.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nothing"
        )
        assert not dkim.verify(tampered, dnsfunc=dns)
        # a Feedback-ID moved to another edition no longer verifies
        other = re.sub(rb"Feedback-ID: 2026-W47:", b"Feedback-ID: 2026-W46:", received.data)
        assert other != received.data and not dkim.verify(other, dnsfunc=dns)
    assert set(asked) == {b"wrap2026._domainkey.news.example.com."}


def test_a_domain_without_its_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIGEST_DKIM_PRIVATE_KEY"):
        make_config(tmp_path, dkim={"domain": "news.example.com", "selector": "s"})
    with pytest.raises(ConfigError, match=r"\[dkim\] private_key is a secret"):
        make_config(tmp_path, dkim={"domain": "d.example", "selector": "s", "private_key": "x"})


def test_every_message_names_its_edition_copy_and_list_in_feedback_id(tmp_path: Path) -> None:
    """Gmail's Feedback Loop reports spam rates per Feedback-ID field: each message of an
    edition carries ``edition:copy:list:SenderId``; two editions, two copies or a test copy never
    share one, and no field holds the colon that separates them."""
    from email import message_from_bytes

    from digest.mail.message import feedback_id

    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    values = {
        message_from_bytes(eml.read_bytes())["Feedback-ID"]
        for eml in (config.outbox_path / "2026-W47").glob("*.eml")
    }
    assert len(values) >= 2  # the demo week's readers choose different topics
    senders = set()
    for value in values:
        edition, copy, list_id, sender = value.split(":")
        assert edition == "2026-W47" and copy and list_id == config.list_id
        assert 5 <= len(sender) <= 15  # Gmail's SenderId
        senders.add(sender)
    assert len(senders) == 1  # the same on the whole mail stream
    assert feedback_id(config, "2026-W47", "").startswith(f"2026-W47:all:{config.list_id}:")
    ids = {
        feedback_id(config, "2026-W47", ""),
        feedback_id(config, "2026-W48", ""),
        feedback_id(config, "2026-W47", "science"),
        feedback_id(config, "2026-W47", "", test=True),
        feedback_id(config, "2026-W47", "a:b c/d" * 20),
    }
    assert len(ids) == 5 and all(v.count(":") == 3 and len(v) < 200 for v in ids)


@pytest.mark.slow
def test_lint_unsubscribes_a_test_reader_in_one_click_on_the_running_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.lint.edition import check_one_click, lint_edition
    from digest.mail import dkimsign
    from digest.web.app import create_app

    from ..conftest import bound_socket, running

    private, _ = rsa_key(tmp_path)
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_DKIM_PRIVATE_KEY": private},
        newsletter={"base_url": f"http://127.0.0.1:{port}/digest"},
        dkim={"domain": "news.example.com", "selector": "wrap2026"},
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)
    before = {s.email for s in store.iter_subscribers(db)}
    # Nothing answers yet: said, and the test reader is gone all the same.
    [down] = [f for f in check_one_click(config, db, week, NOW, timeout=2) if f.level == "error"]
    assert "unreachable" in down.message and "digest serve" in down.message
    assert {s.email for s in store.iter_subscribers(db)} == before
    with running(create_app(config, clock=lambda: NOW, send_queue=False), sock):
        report = lint_edition(config, db, week, NOW, draw=False, one_click=True)
        assert report is not None and report.errors == []
        [works] = [f for f in report.findings if f.check == "one-click"]
        assert works.level == "note" and "took the test reader off the list" in works.message
        assert {s.email for s in store.iter_subscribers(db)} == before  # erased after
        # A signature that leaves the RFC 8058 headers out is an error.
        monkeypatch.setattr(
            dkimsign,
            "SIGNED_HEADERS",
            tuple(h for h in dkimsign.SIGNED_HEADERS if not h.startswith(b"list-unsub")),
        )
        [unsigned] = [f for f in check_one_click(config, db, week, NOW) if f.check == "dkim"]
        assert unsigned.level == "error" and "list-unsubscribe, list-unsubscribe-post" in (
            unsigned.message
        )
    # A serve over another store answers 200 but takes nobody off this list.
    other = make_config(
        tmp_path / "other",
        env={"DIGEST_SECRET": SECRET},
        newsletter={"base_url": f"http://127.0.0.1:{port}/digest"},
    )
    store.open_store(other.store_path).close()
    sock = bound_socket(port)
    with running(create_app(other, clock=lambda: NOW, send_queue=False), sock):
        found = check_one_click(config, db, week, NOW)
    assert [f.level for f in found if f.check == "one-click"] == ["error"]
    assert {s.email for s in store.iter_subscribers(db)} == before
