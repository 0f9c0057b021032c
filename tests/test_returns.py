"""Mail that comes back after the relay said yes: the real bounce, complaint and
auto-reply messages of ../shared/testdata/bounces, VERP, Message-ID matching, soft
limits, and a real IMAP server."""

import json
import mailbox
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.bounces import classify, is_hard
from digest.config import Config
from digest.returns import process_return_path
from digest.subscribers import save_subscriber
from digest.tokens import parse_verp, verp_address

from .conftest import NOW, SECRET, TESTDATA, free_port, make_config, needs_testdata

BOUNCES = TESTDATA / "bounces"
CASES = sorted(p.stem for p in BOUNCES.glob("*.eml")) if BOUNCES.is_dir() else []
# What each labelled kind must leave its recipients as.
EXPECTED = {
    "hard": ("bounced", "bounced"),
    "soft": ("active", "soft-bounce"),
    "complaint": ("unsubscribed", None),
    "autoreply": ("active", None),
    "not_bounce": ("active", None),
}


def _label(name: str) -> dict[str, Any]:
    return json.loads((BOUNCES / f"{name}.json").read_text())


def _maildir(folder: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(str(folder), create=True)
    for raw in messages:
        box.add(raw)
    return folder


def _outcome(tmp_path: Path, name: str) -> dict[str, tuple[str, list[str]]]:
    """Each labelled recipient's (status, events) after processing the one message."""
    config = make_config(tmp_path / name)
    db = store.open_store(config.store_path)
    label = _label(name)
    for address in label["recipients"]:
        save_subscriber(db, address, "", [], NOW)
    path = _maildir(tmp_path / name / "Maildir", [(BOUNCES / f"{name}.eml").read_bytes()])
    process_return_path(db, config, NOW, maildir=path)
    result = {}
    for address in label["recipients"]:
        found = store.get_subscriber(db, address)
        assert found is not None
        result[address] = (found.status, [e for e, _ in store.subscriber_events(db, found.id)])
    db.close()
    return result


@needs_testdata
def test_the_labelled_bounces_are_there() -> None:
    kinds = Counter(_label(n)["kind"] for n in CASES)
    assert sum(kinds.values()) >= 40 and set(kinds) == set(EXPECTED)


@needs_testdata
@pytest.mark.parametrize(
    "name", [n for n in CASES if _label(n)["kind"] in ("autoreply", "not_bounce")]
)
def test_auto_replies_and_other_mail_never_take_anyone_off_the_list(
    tmp_path: Path, name: str
) -> None:
    for address, (status, events) in _outcome(tmp_path, name).items():
        assert (status, events) == ("active", []), address


@needs_testdata
def test_accuracy_per_kind_over_every_labelled_message(tmp_path: Path) -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for name in CASES:
        kind = _label(name)["kind"]
        status, event = EXPECTED[kind]
        for got_status, events in _outcome(tmp_path, name).values():
            total[kind] += 1
            right[kind] += got_status == status and (event is None or event in events)
    share = {k: right[k] / total[k] for k in total}
    print("accuracy per kind:", {k: f"{right[k]}/{total[k]}" for k in sorted(total)})
    assert share["autoreply"] == share["not_bounce"] == 1.0  # never a false removal
    assert share["hard"] >= 0.85 and share["soft"] >= 0.85 and share["complaint"] >= 0.75


@pytest.mark.parametrize(
    ("status", "text", "hard"),
    [
        ("5.1.1", "", True),
        ("5.1.10", "", True),
        ("5.2.1", "mailbox disabled", True),
        ("5.1.8", "sender address rejected", False),  # about us, not the reader
        ("5.2.2", "mailbox full", False),
        ("5.7.1", "blocked by policy", False),
        ("5.4.4", "unable to route", False),
        ("4.1.1", "user unknown", False),  # temporary by its class
        ("5.0.0", "550 No such user here", True),
        ("5.0.0", "550 message refused", False),
        ("", "The recipient name is not recognized", True),
        ("", "Connection timed out", False),
    ],
)
def test_hard_means_the_address_is_gone(status: str, text: str, hard: bool) -> None:
    assert is_hard(status, text) is hard


def _dsn(to: str, recipient: str, status: str, original_id: str = "") -> bytes:
    quoted = f"Message-ID: {original_id}\n" if original_id else ""
    return (
        f"From: MAILER-DAEMON@mx.example.net\nTo: {to}\nSubject: Undelivered Mail\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} mailbox unavailable\n\n"
        f"--B\nContent-Type: text/rfc822-headers\n\n{quoted}Subject: The Weekly Wrap\n\n--B--\n"
    ).encode()


def _edition(config: Config, db: Any, week: str = "2026-W47") -> int:
    from digest.models import RenderedVariant

    variant = RenderedVariant("", "Subject", "<p>x</p>", "x", 1)
    return store.freeze_edition(db, week, {"week": week}, [variant], NOW)


def test_verp_names_the_subscriber_and_edition_when_the_report_does_not(
    config: Config, db: Any, tmp_path: Path
) -> None:
    save_subscriber(db, "forwarded@example.org", "", [], NOW)
    reader = store.get_subscriber(db, "forwarded@example.org")
    assert reader is not None
    edition = _edition(config, db)
    verp = verp_address(SECRET, config.list_id, config.return_path, reader.id, edition)
    assert parse_verp(SECRET, config.list_id, verp.upper()) == (reader.id, edition)
    assert parse_verp(SECRET, config.list_id, verp.replace(f"+{reader.id}.", "+99.")) is None
    # The mailbox forwards to an address that then fails: the report names that one.
    raw = _dsn(verp, "final-destination@elsewhere.example", "5.1.1")
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", [raw]))
    assert report.bounced == 1
    row = next(db.query("SELECT * FROM subscriber_events WHERE event = 'bounced'"))
    assert (row["subscriber_id"], row["edition_id"]) == (reader.id, edition)
    assert row["detail"].startswith("5.1.1")


def test_a_forged_verp_or_a_stranger_changes_nothing(
    config: Config, db: Any, tmp_path: Path
) -> None:
    save_subscriber(db, "reader@example.org", "", [], NOW)
    forged = f"{config.return_path.replace('@', '+1.1.0123456789abcdef@')}"
    messages = [
        _dsn(forged, "stranger@example.net", "5.1.1"),
        _dsn("wrap@news.example.com", "someone-else@example.net", "5.1.1"),
    ]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", messages))
    assert report.bounced == 0 and len(report.unmatched) == 2
    assert store.get_subscriber(db, "reader@example.org").status == "active"  # type: ignore[union-attr]


def test_digests_own_message_id_finds_the_subscriber(
    config: Config, db: Any, tmp_path: Path
) -> None:
    save_subscriber(db, "old-address@example.org", "", [], NOW)
    reader = store.get_subscriber(db, "old-address@example.org")
    assert reader is not None
    edition = _edition(config, db)
    message_id = f"<2026-W47.{reader.id}.{config.list_id}@news.example.com>"
    raw = _dsn("wrap@news.example.com", "renamed@example.net", "5.1.1", message_id)
    process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", [raw]))
    assert store.get_subscriber_by_id(db, reader.id).status == "bounced"  # type: ignore[union-attr]
    row = next(db.query("SELECT edition_id FROM subscriber_events WHERE event = 'bounced'"))
    assert row["edition_id"] == edition


def test_soft_bounces_from_different_editions_reach_the_limit(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, bounces={"soft_limit": 3})
    db = store.open_store(config.store_path)
    save_subscriber(db, "full@example.org", "", [], NOW)
    reader = store.get_subscriber(db, "full@example.org")
    assert reader is not None
    weeks = ["2026-W45", "2026-W46", "2026-W47"]
    editions = [_edition(config, db, w) for w in weeks]

    def soft(week: str, n: int) -> bytes:
        message_id = f"<{week}.{reader.id}.{config.list_id}@news.example.com>"
        return _dsn("wrap@news.example.com", "full@example.org", "4.2.2", message_id)

    # Three from one edition (retries of one message) are one edition's worth.
    same = [soft("2026-W45", n) for n in range(3)]
    process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "A", same))
    assert store.get_subscriber(db, "full@example.org").status == "active"  # type: ignore[union-attr]
    later = [soft("2026-W46", 0), soft("2026-W47", 0)]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "B", later))
    assert report.soft == 2 and report.bounced == 1
    assert store.get_subscriber(db, "full@example.org").status == "bounced"  # type: ignore[union-attr]
    counts = store.return_counts_by_edition(db)
    assert counts[editions[0]] == {"soft-bounce": 3}
    assert counts[editions[2]] == {"soft-bounce": 1, "bounced": 1}


def test_a_complaint_unsubscribes_and_an_auth_failure_report_does_not(
    config: Config, db: Any, tmp_path: Path
) -> None:
    def arf(feedback_type: str, recipient: str) -> bytes:
        return (
            "From: fbl@isp.example.net\nTo: abuse@news.example.com\nSubject: FBL\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; "
            'boundary="B"\n\n--B\nContent-Type: text/plain\n\nA complaint.\n\n'
            f"--B\nContent-Type: message/feedback-report\n\nFeedback-Type: {feedback_type}\n"
            f"Version: 1\nOriginal-Rcpt-To: {recipient}\n\n"
            f"--B\nContent-Type: message/rfc822\n\nTo: {recipient}\nSubject: The Weekly Wrap\n\n"
            "Hello\n--B--\n"
        ).encode()

    for address in ("angry@example.org", "innocent@example.org"):
        save_subscriber(db, address, "", [], NOW)
    messages = [arf("abuse", "angry@example.org"), arf("auth-failure", "innocent@example.org")]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", messages))
    assert report.complaints == 1 and report.messages == {"complaint": 1, "report": 1}
    angry = store.get_subscriber(db, "angry@example.org")
    assert angry is not None and angry.status == "unsubscribed"
    assert store.subscriber_events(db, angry.id) == [("complaint", "arf")]
    assert store.get_subscriber(db, "innocent@example.org").status == "active"  # type: ignore[union-attr]


def test_an_auto_reply_sent_to_the_verp_address_is_never_a_bounce(
    config: Config, db: Any, tmp_path: Path
) -> None:
    save_subscriber(db, "away@example.org", "", [], NOW)
    reader = store.get_subscriber(db, "away@example.org")
    assert reader is not None
    verp = verp_address(SECRET, config.list_id, config.return_path, reader.id, _edition(config, db))
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "away@example.org", verp, "Out of Office"
    reply["Auto-Submitted"] = "auto-replied"
    reply.set_content("I am away until Monday; your mail could not be delivered to me today.")
    report = process_return_path(
        db, config, NOW, maildir=_maildir(tmp_path / "M", [reply.as_bytes()])
    )
    assert report.messages == {"autoreply": 1} and report.changes == []
    assert classify(reply.as_bytes()).kind == "autoreply"


DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
needs_dovecot = pytest.mark.skipif(
    not Path(DOVECOT).exists() and not os.environ.get("CI"),
    reason="needs Dovecot for a real IMAP server: apt-get install dovecot-imapd",
)
IMAP_PASSWORD = "imap-test-password"


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[int]:
    """A real Dovecot on 127.0.0.1 with one mailbox, from a config of its own."""
    # Mail runs as an unprivileged user, who cannot enter pytest's private tmp_path.
    root = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(parents=True)
    (root / "home").chmod(0o777)
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(
        f"base_dir = {root}/run\nstate_dir = {root}/state\nlog_path = {root}/dovecot.log\n"
        "protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n"
        f"first_valid_uid = 1\nmail_location = maildir:{root}/home/%u/Maildir\n"
        f"passdb {{\n  driver = static\n  args = password={IMAP_PASSWORD}\n}}\n"
        f"userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={root}/home/%u\n}}\n"
        "service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n"
        f"    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
    )
    errors = root / "start.err"
    with errors.open("wb") as err:  # not a pipe: the daemon keeps its copy open
        started = subprocess.run(
            [DOVECOT, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=err, check=False
        )
    if started.returncode != 0 and not os.environ.get("CI"):
        pytest.skip(f"Dovecot would not start here: {errors.read_text()[:200]}")
    assert started.returncode == 0, errors.read_text()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (root / "dovecot.log").read_text()
                time.sleep(0.05)
        yield port
    finally:
        subprocess.run(
            [DOVECOT, "-c", str(conf), "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@needs_dovecot
def test_a_hosted_mailbox_over_imap_is_read_once(tmp_path: Path, imap_server: int) -> None:
    import imaplib

    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_IMAP_PASSWORD": IMAP_PASSWORD},
        imap={
            "host": "127.0.0.1",
            "port": imap_server,
            "tls": "none",
            "username": "bounces@news.example.com",
        },
    )
    db = store.open_store(config.store_path)
    save_subscriber(db, "gone@example.org", "", [], NOW)
    save_subscriber(db, "here@example.org", "", [], NOW)
    client = imaplib.IMAP4("127.0.0.1", imap_server)
    client.login("bounces@news.example.com", IMAP_PASSWORD)
    client.select("INBOX")
    away = EmailMessage()
    away["From"], away["To"], away["Subject"] = "here@example.org", "x@y.example", "Out of office"
    away["Auto-Submitted"] = "auto-replied"
    away.set_content("Back on Monday.")
    for raw in (_dsn("wrap@news.example.com", "gone@example.org", "5.1.1"), away.as_bytes()):
        client.append("INBOX", None, None, raw.replace(b"\n", b"\r\n"))
    report = process_return_path(db, config, NOW, imap=True)
    assert report.messages == {"bounce": 1, "autoreply": 1} and report.bounced == 1
    assert store.get_subscriber(db, "gone@example.org").status == "bounced"  # type: ignore[union-attr]
    assert store.get_subscriber(db, "here@example.org").status == "active"  # type: ignore[union-attr]
    again = process_return_path(db, config, NOW, imap=True)
    assert again.messages == {}  # marked seen: never applied twice
    client.select("INBOX")
    assert client.uid("SEARCH", "UNSEEN")[1] == [b""]
    client.logout()


def test_a_wrong_imap_password_is_a_clear_error(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    config = make_config(tmp_path, imap={"host": "127.0.0.1", "port": free_port(), "tls": "none"})
    with pytest.raises(ConfigError, match="DIGEST_IMAP_PASSWORD is not set"):
        process_return_path(store.open_store(config.store_path), config, NOW, imap=True)


def test_with_verp_each_message_goes_from_its_own_return_path(
    tmp_path: Path, smtp_server: Any
) -> None:
    from digest.demo import load_demo
    from digest.gather import week_window
    from digest.sending import send_edition

    controller, handler = smtp_server
    config = make_config(
        tmp_path,
        smtp={
            "host": "127.0.0.1",
            "port": controller.port,
            "tls": "none",
            "return_path": "bounces@news.example.com",
            "verp": True,
        },
    )
    db = store.open_store(config.store_path)
    load_demo(config, db, NOW)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    for received in handler.received:
        assert received.mail_from.startswith("bounces+")
        assert received.mail_from.endswith("@news.example.com")
        found = parse_verp(SECRET, config.list_id, received.mail_from)
        assert found is not None and found[1] == report.edition_id
        subscriber = store.get_subscriber_by_id(db, found[0])
        assert subscriber is not None and [subscriber.email] == received.rcpt_tos


def test_process_mail_on_the_command_line_and_what_status_shows(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from digest.cli import cli

    runner = CliRunner()
    cfg = tmp_path / "config" / "digest.toml"
    env = {"DIGEST_SECRET": SECRET, "DIGEST_SMTP_HOST": ""}
    assert runner.invoke(cli, ["--config", str(cfg), "init", "--demo"], env=env).exit_code == 0
    assert runner.invoke(cli, ["--config", str(cfg), "send"], env=env).exit_code == 0
    from digest.config import load_config

    config = load_config(cfg, env)
    db = store.open_store(config.store_path)
    reader = store.get_subscriber(db, "ben.hughes@example.org")
    assert reader is not None
    message_id = f"<2026-W47.{reader.id}.{config.list_id}@news.example.com>"
    week = next(iter(store.list_editions(db)))[0].week
    message_id = message_id.replace("2026-W47", week)
    raw = _dsn(config.sender_address, "ben.hughes@example.org", "5.1.1", message_id)
    box = _maildir(tmp_path / "Maildir", [raw])
    result = runner.invoke(cli, ["--config", str(cfg), "process-mail", str(box)], env=env)
    assert result.exit_code == 0, result.output
    assert "1 bounced" in result.stdout
    status = runner.invoke(cli, ["--config", str(cfg), "status"], env=env)
    assert "came back: 1 hard, 0 soft bounces, 0 complaints" in status.stdout
    listed = runner.invoke(cli, ["--config", str(cfg), "subscribers", "list"], env=env)
    assert (
        "ben.hughes@example.org" in listed.stdout and "bounced  came back: 1 hard" in listed.stdout
    )
    none = runner.invoke(cli, ["--config", str(cfg), "process-mail"], env=env)
    assert none.exit_code == 2
