"""Mail that comes back after the relay said yes acts only on proof: the real bounce,
complaint and auto-reply messages of ../shared/testdata/bounces classified (through the
dry run) and applied (once proven the way the world proves them: delivered to the VERP
address), forged returns beside real ones, probes, unreadable and personal mail, and a
real IMAP server."""

import base64
import contextlib
import json
import mailbox
import os
import re
import shutil
import signal
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
from digest.returns.bounces import classify, is_hard
from digest.returns.mailboxes import MaildirBox, delivered_at
from digest.returns.process import process_return_path
from digest.tokens import Sent, parse_verp, sign_message_id, sign_token

from ..conftest import (
    NOW,
    SECRET,
    TESTDATA,
    ClockedRunner,
    child_pids,
    free_port,
    make_config,
    needs_testdata,
)
from ..returned import RETURN_PATH, _arf, _delivered_to, _maildir, _reader, _sent, _setup, _verp

BOUNCES = TESTDATA / "bounces"
CASES = sorted(p.stem for p in BOUNCES.glob("*.eml")) if BOUNCES.is_dir() else []


def _label(name: str) -> dict[str, Any]:
    return json.loads((BOUNCES / f"{name}.json").read_text())


def _dsn(to: str, recipient: str, status: str, quoted: str = "") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\nTo: {to}\nSubject: Undelivered Mail\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\n\n"
        f"--B\nContent-Type: text/rfc822-headers\n\n{quoted}Subject: The Weekly Wrap\n\n--B--\n"
    ).encode()


def _status(db: Any, address: str) -> str:
    found = store.get_subscriber(db, address)
    assert found is not None
    return str(found.status)


# ---------------------------------------------------------------- the labelled corpus


@needs_testdata
def test_the_labelled_bounces_are_there() -> None:
    kinds = Counter(_label(n)["kind"] for n in CASES)
    assert sum(kinds.values()) >= 40
    assert set(kinds) == {"hard", "soft", "complaint", "autoreply", "not_bounce"}


def _right(kind: str, entry: dict[str, Any], address: str) -> bool:
    failure = next((f for f in entry["failures"] if f["address"] == address), None)
    if kind in ("hard", "soft"):
        return (
            entry["kind"] == "bounce"
            and failure is not None
            and failure["hard"] == (kind == "hard")
        )
    if kind == "complaint":  # an ARF report, or an opt-out request by mail
        return entry["kind"] in ("complaint", "unsubscribe")
    if kind == "autoreply":
        return entry["kind"] == "autoreply"
    return entry["kind"] not in ("bounce", "complaint", "unsubscribe")


@needs_testdata
def test_the_dry_run_classifies_every_labelled_message(tmp_path: Path) -> None:
    """What `process-mail --dry-run --json` says of each message, against the labels,
    recipient by recipient; and a dry run changes nothing."""
    config, db = _setup(tmp_path)
    names = {}
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for name in CASES:
        names[box.add((BOUNCES / f"{name}.eml").read_bytes())] = name
    before = sorted(os.listdir(tmp_path / "Maildir" / "new"))
    report = process_return_path(db, config, NOW, maildir=tmp_path / "Maildir", dry_run=True)
    assert sorted(os.listdir(tmp_path / "Maildir" / "new")) == before  # nothing moved
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for entry in report.as_dict()["messages"]:
        label = _label(names[entry["message"]])
        for address in label["recipients"]:
            total[label["kind"]] += 1
            right[label["kind"]] += _right(label["kind"], entry, address)
    print("classified right per kind:", {k: f"{right[k]}/{total[k]}" for k in sorted(total)})
    # never a reader taken off by a soft bounce, an auto-reply or a report
    assert right["soft"] == total["soft"]
    assert right["autoreply"] == total["autoreply"] and right["not_bounce"] == total["not_bounce"]
    assert right["hard"] / total["hard"] >= 0.85 and right["complaint"] / total["complaint"] >= 0.9


@needs_testdata
@pytest.mark.slow
def test_proven_labelled_returns_do_what_their_kind_says(tmp_path: Path) -> None:
    """Each real message delivered to the VERP address of the message it answers: a
    hard bounce bounces, a soft one counts, a complaint unsubscribes (a DMARC report
    does not), an auto-reply or a delivery report changes nobody."""
    outcomes: Counter[str] = Counter()
    for name in CASES:
        label = _label(name)
        config, db = _setup(tmp_path / name)
        reader = _reader(db, (label["recipients"] or ["reader@example.org"])[0])
        edition = _sent(db, "2026-W47", reader)
        raw = _delivered_to((BOUNCES / f"{name}.eml").read_bytes(), _verp(config, reader, edition))
        process_return_path(db, config, NOW, maildir=_maildir(tmp_path / name / "M", [raw]))
        status = _status(db, reader.email)
        events = [e for e, _ in store.subscriber_events(db, reader.id)]
        kind = label["kind"]
        if kind in ("soft", "autoreply", "not_bounce"):
            assert status == "active", (name, status)  # never a removal
        expected = {
            "hard": status == "bounced",
            "soft": "soft-bounce" in events,
            "complaint": status == "unsubscribed" or label.get("reason") == "feedback",
            "autoreply": not {"bounced", "soft-bounce", "complaint"} & set(events),
            "not_bounce": "bounced" not in events,
        }[kind]
        outcomes[f"{kind}:{'right' if expected else 'wrong'}"] += 1
        db.close()
    print("proven outcomes:", dict(sorted(outcomes.items())))
    assert outcomes["hard:right"] >= 12 and outcomes["soft:wrong"] == 0
    assert outcomes["autoreply:wrong"] == outcomes["not_bounce:wrong"] == 0


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@needs_testdata
@pytest.mark.parametrize("name", CASES)
def test_a_message_with_crlf_line_ends_is_read_exactly_as_its_lf_twin(name: str) -> None:
    """Every message of the corpus both ways (IMAP serves CRLF, many Maildirs LF): the
    same kind, failures, complaint, quoted Message-IDs and quoted text."""
    raw = (BOUNCES / f"{name}.eml").read_bytes()
    lf, crlf = classify(raw.replace(b"\r\n", b"\n")), classify(_crlf(raw))
    assert crlf == lf
    if re.search(rb"(?i)Message-ID:\s*<", raw.split(b"\n\n", 1)[-1]) and lf.kind != "other":
        assert crlf.message_ids  # the copy of the returned message is read in both


@needs_testdata
def test_a_crlf_complaint_to_the_feedback_address_unsubscribes_by_its_quoted_message_id(
    tmp_path: Path,
) -> None:
    """A real ARF report as IMAP serves it (CRLF), sent to the feedback address, not the
    VERP path: digest's signed Message-ID in its copy of the message is the proof."""
    config, db = _setup(tmp_path)
    reader = _reader(db, "kijitora@example.com")
    _sent(db, "2026-W47", reader)
    signed = sign_message_id(SECRET, config.list_id, "2026-W47", reader.id, "news.example.com")
    head, _, body = (BOUNCES / "arf-16.eml").read_bytes().partition(b"\n\n")
    quoted, n = re.subn(rb"(?im)^(Message-ID:[ \t]*)<[^>\n]+>", rb"\g<1>" + signed.encode(), body)
    assert n
    raw = _crlf(head + b"\n\n" + quoted)
    report = process_return_path(db, config, NOW, maildir=_raw_maildir(tmp_path / "M", raw))
    assert report.as_dict()["messages"][0]["proof"] == "headers"
    assert _status(db, "kijitora@example.com") == "unsubscribed"


@needs_testdata
def test_a_report_s_code_is_found_where_it_stands_in_its_own_words() -> None:
    """Office 365 names the address first in its greeting, then the remote server's reply
    with its code further down: the failure carries that code, in both line-end forms."""
    raw = (BOUNCES / "lhost-office365-01.eml").read_bytes()
    for form in (raw, _crlf(raw)):
        (failure,) = classify(form).failures
        assert (failure.address, failure.status, failure.hard) == (
            "kijitora@example.com",
            "5.1.10",
            True,
        )


def _raw_maildir(folder: Path, raw: bytes) -> Path:
    """A Maildir holding ``raw`` byte for byte (the mailbox module rewrites line ends)."""
    mailbox.Maildir(str(folder), create=True)
    (folder / "new" / "1.crlf").write_bytes(raw)
    return folder


def _report(diagnostic: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\nTo: x@news.example.com\nSubject: Undelivered\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\n\n--B\nContent-Type: text/plain\n\nYour message could not be sent.\n\n'
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; ann@example.org\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n\n--B--\n"
    ).encode()


@pytest.mark.parametrize(
    ("status", "diagnostic", "code", "hard"),
    [
        # a relay's wrapper code around the remote server's own reply: the reply decides
        (
            "5.1.0",
            "550 5.1.0 - Unknown address error 550-'5.2.2 <ann@example.org>: Mailbox Full'",
            "5.2.2",
            False,
        ),
        ("5.0.0", "550 5.1.0 Relay said: 550 5.1.1 <ann@example.org> User unknown", "5.1.1", True),
        ("5.1.1", "554 5.7.1 <ann@example.org>: Relay access denied", "5.7.1", False),
        ("5.1.1", "550-5.1.1 The email account does not exist. 550 5.1.1 see", "5.1.1", True),
        # whose address: the sender's, the sending IP, a local delivery program
        ("5.1.0", "550 5.1.0 <bounces@news.example.com> sender rejected", "5.1.0", False),
        ("5.1.1", "550 5.1.1 Service unavailable; 203.0.113.7 has been blocked", "5.1.1", False),
        ("5.1.1", "x-unix; /usr/bin/procmail: exit code 75", "5.1.1", False),
        # a final failure with a 4.1.1 whose words say the address is gone
        (
            "4.1.1",
            "450 4.1.1 <ann@example.org>: Recipient address rejected: User unknown",
            "4.1.1",
            True,
        ),
        ("4.1.1", "450 4.1.1 try again later", "4.1.1", False),
    ],
)
def test_the_remote_reply_and_whose_address_it_blames_decide_a_dsn(
    status: str, diagnostic: str, code: str, hard: bool
) -> None:
    for raw in (_report(diagnostic, status), _crlf(_report(diagnostic, status))):
        (failure,) = classify(raw).failures
        assert (failure.status, failure.hard) == (code, hard)


def test_a_bounce_marked_auto_replied_is_read_as_the_bounce_it_is() -> None:
    """RFC 3834 has DSNs carry "Auto-Submitted: auto-replied": a plain-text bounce with a
    code is a bounce, and a vacation reply with the same header stays an auto-reply."""
    bounce = (
        b"From: Mail Server <admin@mx.example.net>\nTo: x@news.example.com\n"
        b"Subject: Delivery failure\nAuto-Submitted: auto-replied\n\n"
        b"Your message to ann@example.org could not be delivered:\n"
        b"550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown\n"
    )
    vacation = (
        b"From: Ann <ann@example.org>\nTo: x@news.example.com\nSubject: Delivery failure?\n"
        b"Auto-Submitted: auto-replied\n\nI am away until Monday, write to bob@example.org.\n"
    )
    for raw in (bounce, _crlf(bounce)):
        returned = classify(raw)
        assert returned.kind == "bounce"
        assert [(f.address, f.hard) for f in returned.failures] == [("ann@example.org", True)]
    assert classify(vacation).kind == classify(_crlf(vacation)).kind == "autoreply"


GMAIL_DSN = """Delivered-To: bounces@news.example.com
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces@news.example.com
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="0000000000001"; report-type=delivery-status

--0000000000001
Content-Type: multipart/related; boundary="0000000000002"

--0000000000002
Content-Type: multipart/alternative; boundary="0000000000003"

--0000000000003
Content-Type: text/plain; charset="UTF-8"


** Address not found **

Your message wasn't delivered to ann@example.org because the address couldn't be found,
or is unable to receive mail.

Learn more here: https://support.google.com/mail/?p=NoSuchUser

The response was:

The email account that you tried to reach does not exist. Please try double-checking the
recipient's email address for typos or unnecessary spaces. For more information, go to
https://support.google.com/mail/?p=NoSuchUser

--0000000000003
Content-Type: text/html; charset="UTF-8"

<html><body>Address not found</body></html>
--0000000000003--
--0000000000002
Content-Type: image/png; name="icon.png"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="icon.png"

iVBORw0KGgo=
--0000000000002--
--0000000000001
Content-Type: {part}

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; news.example.com
Arrival-Date: Tue, 24 Nov 2026 10:00:00 -0800 (PST)
X-Original-Message-ID: <{message_id}>

Final-Recipient: rfc822; ann@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2607:f8b0:4864:20::1a, the server
 for the domain example.org.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does
 not exist. Please try 550-5.1.1 double-checking the recipient's email address
 for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1
  https://support.google.com/mail/?p=NoSuchUser 41be03b00d2f7-5.1.1 - gsmtp
Last-Attempt-Date: Tue, 24 Nov 2026 10:00:01 -0800 (PST)

--0000000000001
Content-Type: text/rfc822-headers

Message-ID: <{message_id}>
Subject: The Weekly Wrap

--0000000000001--
"""


@pytest.mark.parametrize("part", ["message/delivery-status", "message/global-delivery-status"])
def test_a_google_multipart_report_is_a_hard_bounce_that_quotes_the_message_id(
    part: str,
) -> None:
    """Google's report: the text in multipart/related inside multipart/alternative, an
    icon, the status part (RFC 6533's when the mail was internationalised), the
    original Message-ID in the status fields and the headers; marked auto-replied."""
    raw = GMAIL_DSN.format(part=part, message_id="2026-W47.7.abc@news.example.com").encode()
    for form in (raw, _crlf(raw)):
        returned = classify(form)
        assert returned.kind == "bounce"
        assert [(f.address, f.status, f.hard) for f in returned.failures] == [
            ("ann@example.org", "5.1.1", True)
        ]
        assert "<2026-W47.7.abc@news.example.com>" in returned.message_ids


def test_a_delayed_notice_is_never_hard_whatever_its_words() -> None:
    raw = _report("450 4.1.1 <ann@example.org>: User unknown", "4.1.1", action="delayed")
    assert not classify(raw).failures[0].hard
    quoting = _report("550 5.1.1 <ann@example.org>: User unknown", "4.4.1", action="delayed")
    (failure,) = classify(quoting).failures
    assert (failure.status, failure.hard) == ("4.4.1", False)


def test_an_encoded_or_international_delivery_status_part_is_read() -> None:
    """RFC 6533's message/global-delivery-status (Google, SMTPUTF8 hosts), and a
    delivery-status part sent base64-encoded."""
    plain = _report("550 5.1.1 <ann@example.org>: user unknown")
    international = plain.replace(b"message/delivery-status", b"message/global-delivery-status")
    fields = plain.split(b"message/delivery-status\n\n", 1)[1].split(b"\n--B--", 1)[0]
    encoded = plain.replace(
        b"message/delivery-status\n\n" + fields,
        b"message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(fields),
    )
    for raw in (plain, international, encoded):
        returned = classify(raw)
        assert returned.kind == "bounce", raw
        assert [(f.address, f.hard) for f in returned.failures] == [("ann@example.org", True)]


@pytest.mark.parametrize(
    ("status", "text", "hard"),
    [
        ("5.1.1", "", True),
        ("5.1.10", "", True),
        ("5.1.1", "mailbox full: over quota", False),  # the words say what it really is
        ("5.2.1", "The email account that you tried to reach is disabled", False),
        ("5.2.1", "no such user here", True),
        ("5.1.8", "sender address rejected", False),  # about us, not the reader
        ("5.2.2", "mailbox full", False),
        ("5.2.2", "user unknown", False),  # a full mailbox is never gone
        ("5.7.1", "blocked by policy", False),
        ("5.7.1", "<a@example.org>: Recipient address rejected: User unknown", True),
        ("5.4.4", "unable to route", False),
        ("5.4.4", "Host or domain name not found. Name service error for name=x.example", True),
        ("4.1.1", "user unknown", False),  # temporary by its class
        ("5.0.0", "550 No such user here", True),
        ("5.0.0", "550 message refused", False),
        ("5.0.0", "550 Unknown user (in reply to end of DATA command)", False),  # the message
        ("", "The recipient name is not recognized", True),
        ("", "User someone (a@example.org) not listed in Domino Directory", True),
        ("", "L'adresse de messagerie n'existe pas", True),
        ("", "Connection timed out", False),
        # words the table had not yet, and whose address they blame
        ("5.4.4", "<a@example.org>: Recipient address rejected: Access denied", True),
        ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", True),
        ("5.4.4", "Host unknown: couldn't find any host named example.invalid", True),
        ("5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable", True),
        ("5.0.0", "The email account that you tried to reach does not exist", True),
        ("5.0.0", "The e-mail address you entered couldn't be found", True),
        ("", "unknown or illegal alias: ann@example.org", True),
        ("5.0.0", "The account or domain may not exist, they may be blacklisted", True),
        ("5.7.1", "Recipient address rejected: user unknown; your IP is on a blocklist", False),
        ("5.1.8", "Sender address rejected: Domain not found", False),
        ("5.0.0", "<bounces@news.example.com>: Sender address rejected: User unknown", False),
        ("5.1.1", "Delivery to a pipe failed: local delivery program exit code 67", False),
        ("4.5.0", "mailbox unavailable", False),
        # the relay's IP named beside a refusal of the recipient is no block of ours
        (
            "5.1.1",
            "host mx.example.org[192.0.2.4] said: 550 5.1.1 <a@example.org>: "
            "Recipient address rejected: User unknown",
            True,
        ),
        ("5.1.1", "Return-Path: <bounces@news.example.com>\n550 5.1.1 user unknown", True),
        ("5.1.1", "Client host [203.0.113.7] blocked using zen.spamhaus.org", False),
        ("5.1.1", "550 5.1.1 <a@example.org>: user is over quota", False),
        ("5.0.0", "this address no longer accepts mail", False),  # suspended, may return
        ("5.7.1", "SPF check: fail; user unknown", False),
    ],
)
def test_hard_means_the_address_is_gone(status: str, text: str, hard: bool) -> None:
    assert is_hard(status, text) is hard


def test_a_version_number_in_quoted_headers_is_no_status_code() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.net\nTo: x@news.example.com\n"
        b"Subject: Undeliverable mail\n\nThe following address failed:\n"
        b"  ann@example.org\n\n--- Original message follows.\n"
        b"X-Mailer: Example MTA v4.6.1\nReceived: by relay 5.1.1 release\n"
    )
    (failure,) = classify(raw).failures
    assert (failure.address, failure.status, failure.hard) == ("ann@example.org", "", False)


def test_a_dsn_without_its_mime_structure_is_read_from_its_fields() -> None:
    raw = (
        b"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
        b"To: x@news.example.com\nSubject: Returned mail: see transcript for details\n\n"
        b"The original message was received from localhost.\n\n"
        b"Reporting-MTA: dns; mx.example.net\n\n"
        b"Final-Recipient: RFC822; ann@example.org\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: SMTP; 550 5.1.1 <ann@example.org>... User unknown\n\n"
        b"Final-Recipient: RFC822; bob@example.org\nAction: failed\nStatus: 4.4.1\n"
    )
    returned = classify(raw)
    assert returned.kind == "bounce"
    assert [(f.address, f.hard) for f in returned.failures] == [
        ("ann@example.org", True),
        ("bob@example.org", False),
    ]


def _ses_mail(notification: dict[str, Any]) -> bytes:
    body = json.dumps(notification)
    wrapped = "!\n ".join(body[i : i + 900] for i in range(0, len(body), 900))  # SNS wraps
    return (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@news.example.com\n"
        "Subject: AWS Notification Message\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n\n"
        f"{wrapped}\n\n--\nIf you wish to stop receiving notifications from this topic, "
        "please click or visit the link below to unsubscribe:\nhttps://sns.example/unsub\n"
    ).encode()


def test_an_ses_notification_that_arrives_as_mail_is_understood(tmp_path: Path) -> None:
    config, db = _setup(tmp_path)
    reader = _reader(db, "gone@example.org")
    _sent(db, "2026-W47", reader)
    message_id = sign_message_id(SECRET, config.list_id, "2026-W47", reader.id, "news.example.com")
    bounce = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {
                    "emailAddress": "gone@example.org",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
        "mail": {
            "source": "wrap@news.example.com",
            "messageId": "0100018c-ses-id",
            "headers": [{"name": "Message-ID", "value": message_id}]
            + [{"name": f"X-Padding-{i}", "value": "x" * 60} for i in range(20)],
        },
    }
    returned = classify(_ses_mail(bounce))
    assert returned.kind == "bounce" and returned.failures[0].hard
    report = process_return_path(
        db, config, NOW, maildir=_maildir(tmp_path / "M", [_ses_mail(bounce)])
    )
    assert report.as_dict()["messages"][0]["proof"] == "headers"
    assert _status(db, "gone@example.org") == "bounced"
    transient = dict(bounce, bounce={**bounce["bounce"], "bounceType": "Transient"})
    assert not classify(_ses_mail(transient)).failures[0].hard
    complaint = {
        "notificationType": "Complaint",
        "mail": bounce["mail"],
        "complaint": {
            "complainedRecipients": [{"emailAddress": "gone@example.org"}],
            "complaintFeedbackType": "abuse",
        },
    }
    assert classify(_ses_mail(complaint)).kind == "complaint"


def test_an_ses_notification_by_mail_proves_itself_by_the_id_ses_gave_the_message(
    tmp_path: Path,
) -> None:
    """Sent through the SES API, a message's SES id is in the ledger: a notification
    without the original headers still names it."""
    config, db = _setup(tmp_path)
    reader = _reader(db, "gone@example.org")
    edition = _sent(db, "2026-W47", reader)
    db.execute(
        "UPDATE deliveries SET provider_id = '0100018c-ses-id' WHERE edition_id = ?", [edition]
    )
    bounce = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "gone@example.org", "status": "5.1.1"}],
        },
        "mail": {"source": "wrap@news.example.com", "messageId": "0100018c-ses-id"},
    }
    sns = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:1:x",
        "Message": json.dumps(bounce),
    }
    report = process_return_path(
        db, config, NOW, maildir=_maildir(tmp_path / "M", [_ses_mail(sns)])
    )
    assert report.as_dict()["messages"][0]["proof"] == "provider"
    assert _status(db, "gone@example.org") == "bounced"
    other = dict(bounce, mail={"source": "wrap@news.example.com", "messageId": "someone-elses"})
    unproven = process_return_path(
        db, config, NOW, maildir=_maildir(tmp_path / "N", [_ses_mail(other)]), dry_run=True
    )
    assert unproven.as_dict()["messages"][0]["proof"] == "none"


# ---------------------------------------------------------------- proof


def test_verp_proves_the_subscriber_and_edition_when_the_report_does_not(tmp_path: Path) -> None:
    config, db = _setup(tmp_path)
    reader = _reader(db, "forwarded@example.org")
    edition = _sent(db, "2026-W47", reader)
    verp = _verp(config, reader, edition)
    assert parse_verp(SECRET, config.list_id, verp.upper()) == (reader.id, Sent(edition))
    assert parse_verp(SECRET, config.list_id, verp.replace(f"+{reader.id}.", "+99.")) is None
    # The mailbox forwards to an address that then fails: the report names that one.
    raw = _delivered_to(_dsn(verp, "final-destination@elsewhere.example", "5.1.1"), verp)
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", [raw]))
    assert report.count("bounced") == 1 and report.as_dict()["messages"][0]["proof"] == "verp"
    row = next(db.query("SELECT * FROM subscriber_events WHERE event = 'bounced'"))
    assert (row["subscriber_id"], row["edition_id"]) == (reader.id, edition)
    assert row["detail"].startswith("5.1.1")


def test_a_signed_message_id_or_list_unsubscribe_token_in_the_quote_is_proof(
    tmp_path: Path,
) -> None:
    config, db = _setup(tmp_path)
    moved, angry = _reader(db, "old-address@example.org"), _reader(db, "angry@example.org")
    edition = _sent(db, "2026-W47", moved, angry)
    message_id = sign_message_id(SECRET, config.list_id, "2026-W47", moved.id, "news.example.com")
    token = sign_token(SECRET, config.list_id, angry.id)
    quoted = f"List-Unsubscribe: <https://news.example.com/digest/unsubscribe/{token}>\n"
    messages = [
        _dsn(RETURN_PATH, "renamed@example.net", "5.1.1", f"Message-ID: {message_id}\n"),
        _arf("abuse", "redacted@isp.example.net", quoted),
    ]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", messages))
    assert [m["proof"] for m in report.as_dict()["messages"]] == ["headers", "headers"]
    assert _status(db, "old-address@example.org") == "bounced"
    assert _status(db, "angry@example.org") == "unsubscribed"
    row = next(db.query("SELECT edition_id FROM subscriber_events WHERE event = 'bounced'"))
    assert row["edition_id"] == edition


def test_five_forged_returns_remove_nobody(tmp_path: Path) -> None:
    """The attacks of the issue, each beside nothing real: a hand-made DSN to the plain
    bounce address naming a reader, a forged ARF naming one, "unsubscribe" from a
    spoofed From, a DSN quoting an unsigned Message-ID, a forged VERP address; and a
    Message-ID signed for a week that never went to that reader."""
    config, db = _setup(tmp_path)
    readers = [_reader(db, f"reader{i}@example.org") for i in range(6)]
    _sent(db, "2026-W47", *readers[:5])
    unsigned = f"<1999-W01.{readers[3].id}.{config.list_id}@news.example.com>"
    forged_verp = config.return_path.replace("@", f"+{readers[4].id}.1.0123456789abcdef@")
    never_sent = sign_message_id(SECRET, config.list_id, "2026-W46", readers[5].id, "x.example")
    spoofed = EmailMessage()
    spoofed["From"], spoofed["To"] = "reader2@example.org", "unsubscribe@news.example.com"
    spoofed["Subject"] = "unsubscribe"
    spoofed.set_content("unsubscribe")
    messages = [
        _dsn(RETURN_PATH, "reader0@example.org", "5.1.1"),
        _arf("abuse", "reader1@example.org"),
        spoofed.as_bytes(),
        _dsn(RETURN_PATH, "nobody-we-know@example.net", "5.1.1", f"Message-ID: {unsigned}\n"),
        _delivered_to(_dsn(forged_verp, "reader4@example.org", "4.2.2"), forged_verp),
        _dsn(RETURN_PATH, "other@example.net", "5.1.1", f"Message-ID: {never_sent}\n"),
    ]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", messages))
    assert Counter(s.status for s in store.iter_subscribers(db)) == {"active": 6}
    entries = report.as_dict()["messages"]
    assert all(e["proof"] == "none" for e in entries)
    # What an unproven return may do: ask the reader, never act for them.
    assert report.count("probe") == 1 and report.count("leave-check") == 1
    outbox = config.outbox_path / "notices"
    assert (outbox / "probe" / "reader0@example.org.eml").exists()
    assert (outbox / "leave-check" / "reader2@example.org.eml").exists()


def test_an_unproven_bounce_probes_and_the_probes_own_bounce_is_proof(
    tmp_path: Path, smtp_server: Any
) -> None:
    controller, handler = smtp_server
    config, db = _setup(
        tmp_path,
        smtp={
            "host": "127.0.0.1",
            "port": controller.port,
            "tls": "none",
            "return_path": RETURN_PATH,
        },
    )
    reader = _reader(db, "gone@example.org")
    unproven = [_dsn(RETURN_PATH, "gone@example.org", "5.1.1")]
    first = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "A", unproven))
    assert first.count("probe") == 1 and first.notices["sent"] == 1
    (probe,) = handler.received
    assert probe.rcpt_tos == ["gone@example.org"]
    found = parse_verp(SECRET, config.list_id, probe.mail_from)
    assert found is not None and found[0] == reader.id and found[1].probe is not None
    assert _status(db, "gone@example.org") == "active"
    # A second unproven report within probe_days sends no second probe.
    again = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "B", unproven))
    assert again.count("probe") == 0 and len(handler.received) == 1
    # The probe's own bounce comes back to its signed return path: that is proof.
    bounced = _delivered_to(_dsn(probe.mail_from, "gone@example.org", "5.1.1"), probe.mail_from)
    last = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "C", [bounced]))
    assert last.count("bounced") == 1 and _status(db, "gone@example.org") == "bounced"
    detail = next(db.query("SELECT detail FROM subscriber_events WHERE event = 'bounced'"))
    assert detail["detail"].startswith("probe bounced")


def test_an_unsubscribe_mail_with_the_readers_token_is_obeyed(tmp_path: Path) -> None:
    config, db = _setup(tmp_path)
    reader = _reader(db, "leaving@example.org")
    request = EmailMessage()
    request["From"], request["To"] = "whoever@example.net", "unsubscribe@news.example.com"
    request["Subject"] = f"unsubscribe {sign_token(SECRET, config.list_id, reader.id)}"
    request.set_content("")
    report = process_return_path(
        db, config, NOW, maildir=_maildir(tmp_path / "M", [request.as_bytes()])
    )
    assert (
        report.count("unsubscribed") == 1 and _status(db, "leaving@example.org") == "unsubscribed"
    )


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("1764000000.M99P7.host", "1764000000.M100P7.host"),  # unpadded microseconds
        ("1764000000.M5P7Q9.host", "1764000000.M5P7Q10.host"),  # one process's counter
        ("999999999.M1P1.host", "1000000000.M0P1.host"),  # a 10th digit of seconds
        ("1764000000.12345_1.host,S=100", "1764000001.1_1.host"),  # Dovecot's older form
        ("1764000000.M1P1.host", "not-a-maildir-name"),
    ],
)
def test_maildir_names_sort_by_the_time_they_record(earlier: str, later: str) -> None:
    assert delivered_at(earlier) < delivered_at(later)
    assert sorted([later, earlier], key=delivered_at) == [earlier, later]


def test_a_maildir_is_read_in_the_order_it_was_delivered(tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "M"), create=True)
    added = [box.add(f"Subject: {n}\n\nbody {n}\n".encode()) for n in range(300)]
    read = [key for key, _ in MaildirBox(tmp_path / "M").new_messages(10_000)]
    assert read == added


def test_soft_bounces_from_different_editions_reach_the_limit(tmp_path: Path) -> None:
    config, db = _setup(tmp_path, bounces={"soft_limit": 3})
    reader = _reader(db, "full@example.org")
    weeks = ["2026-W45", "2026-W46", "2026-W47"]
    editions = [_sent(db, w, reader) for w in weeks]

    def soft(week: str) -> bytes:
        message_id = sign_message_id(SECRET, config.list_id, week, reader.id, "news.example.com")
        return _dsn(RETURN_PATH, "full@example.org", "4.2.2", f"Message-ID: {message_id}\n")

    # Three from one edition (retries of one message) are one edition's worth.
    same = [soft("2026-W45") for _ in range(3)]
    process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "A", same))
    assert _status(db, "full@example.org") == "active"
    later = [soft("2026-W46"), soft("2026-W47")]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "B", later))
    assert report.count("soft-bounce") == 2 and report.count("bounced") == 1
    assert _status(db, "full@example.org") == "bounced"
    counts = store.return_counts_by_edition(db)
    assert counts[editions[0]] == {"soft-bounce": 3}
    assert counts[editions[2]] == {"soft-bounce": 1, "bounced": 1}


def test_a_complaint_from_a_reader_who_already_left_is_recorded_for_the_guard(
    tmp_path: Path,
) -> None:
    """A reader who unsubscribed by the link and then pressed "spam" counts against the
    list at the provider all the same: the complaint is recorded against the edition,
    and the reader's status stays what it was."""
    from digest.delivery.reputation import edition_groups

    config, db = _setup(tmp_path)
    reader = _reader(db, "gone@gmail.com")
    edition = _sent(db, "2026-W47", reader)
    store.set_subscriber_status(db, reader.email, "unsubscribed", NOW, "link")
    raw = _delivered_to(_arf("abuse", "gone@gmail.com"), _verp(config, reader, edition))
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", [raw]))
    assert report.as_dict()["messages"][0]["action"].startswith("note a complaint")
    assert _status(db, "gone@gmail.com") == "unsubscribed"
    assert edition_groups(db, edition)["gmail"].complaints == 1
    again = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "N", [raw]))
    assert again.count("complaint") == 0
    assert edition_groups(db, edition)["gmail"].complaints == 1  # one reader, once


def test_a_proven_complaint_unsubscribes_and_an_auth_failure_report_does_not(
    tmp_path: Path,
) -> None:
    config, db = _setup(tmp_path)
    angry, innocent = _reader(db, "angry@example.org"), _reader(db, "innocent@example.org")
    _sent(db, "2026-W47", angry, innocent)

    def quoting(reader: Any) -> str:
        message_id = sign_message_id(SECRET, config.list_id, "2026-W47", reader.id, "x.example")
        return f"Message-ID: {message_id}\n"

    messages = [
        _arf("abuse", "angry@example.org", quoting(angry)),
        _arf("auth-failure", "innocent@example.org", quoting(innocent)),
    ]
    report = process_return_path(db, config, NOW, maildir=_maildir(tmp_path / "M", messages))
    assert report.count("complaint") == 1 and report.kinds() == {"complaint": 2}
    assert _status(db, "angry@example.org") == "unsubscribed"
    assert store.subscriber_events(db, angry.id)[-1] == ("complaint", "arf")
    assert _status(db, "innocent@example.org") == "active"


def test_an_auto_reply_sent_to_the_verp_address_is_never_a_bounce(tmp_path: Path) -> None:
    config, db = _setup(tmp_path)
    reader = _reader(db, "away@example.org")
    verp = _verp(config, reader, _sent(db, "2026-W47", reader))
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "away@example.org", verp, "Out of Office"
    reply["Auto-Submitted"] = "auto-replied"
    reply.set_content("I am away until Monday; your mail could not be delivered to me today.")
    report = process_return_path(
        db, config, NOW, maildir=_maildir(tmp_path / "M", [reply.as_bytes()])
    )
    assert report.kinds() == {"autoreply": 1} and report.count("bounced") == 0
    assert classify(reply.as_bytes()).kind == "autoreply"


# ---------------------------------------------------------------- one bad message


def _nested(depth: int) -> bytes:
    inner = b"From: a@example.org\nSubject: x\n\nhello\n"
    for i in range(depth):
        boundary = f"b{i}".encode()
        inner = (
            b"Content-Type: multipart/mixed; boundary="
            + boundary
            + b"\n\n--"
            + boundary
            + b"\n"
            + inner
            + b"\n--"
            + boundary
            + b"--\n"
        )
    return (
        b"From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\nMIME-Version: 1.0\n"
        + inner
    )


def test_one_bad_message_never_stops_the_rest_and_a_persons_mail_stays_unread(
    tmp_path: Path,
) -> None:
    config, db = _setup(tmp_path, bounces={"max_message_kb": 64})
    reader = _reader(db, "gone@example.org")
    verp = _verp(config, reader, _sent(db, "2026-W47", reader))
    person = EmailMessage()
    person["From"], person["To"] = "editor@example.org", RETURN_PATH
    person["Subject"] = "Lunch on Friday?"
    person.set_content("Are you free?")
    messages = [
        _nested(300),
        _nested(2000),
        b"From: MAILER-DAEMON@x.example\nSubject: Undelivered\n\n" + b"x" * 70_000,
        b"\xff\xfe\x00garbage\x00\nContent-Type: multipart/report; boundary=\n\n--\n",
        person.as_bytes(),
        _delivered_to(_dsn(verp, "gone@example.org", "5.1.1"), verp),
    ]
    folder = _maildir(tmp_path / "M", messages)
    report = process_return_path(db, config, NOW, maildir=folder)
    summary = report.as_dict()
    assert _status(db, "gone@example.org") == "bounced"  # the real return behind them
    assert summary["set_aside"] == 3 and summary["left_unread"] >= 1
    new = os.listdir(folder / "new")
    assert len(new) == summary["left_unread"]  # the person's mail is where it was, unread
    flagged = [n for n in os.listdir(folder / "cur") if n.endswith(":2,F")]
    assert len(flagged) == 3  # set aside for a person: flagged, not seen
    again = process_return_path(db, config, NOW, maildir=folder)
    assert [m.disposition for m in again.messages] == ["leave"] * len(new)


def test_the_weekly_run_goes_on_past_a_mailbox_message_that_cannot_be_read(
    tmp_path: Path,
) -> None:
    from digest.approval import run_weekly

    from ..fixtures import load_week

    config, db = _setup(tmp_path, bounces={"maildir": "Maildir"})
    load_week(config, db, NOW)
    _maildir(tmp_path / "Maildir", [_nested(2000)])
    report = run_weekly(config, lambda: NOW).send
    assert report is not None and report.count("sent") == 6


# ---------------------------------------------------------------- IMAP and the CLI


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
        _stop_dovecot(root, conf)
        shutil.rmtree(root, ignore_errors=True)


def _stop_dovecot(root: Path, conf: Path) -> None:
    """Kill the master and every process it started, and wait until they are gone.
    (A graceful SIGTERM or `dovecot stop` takes 2.5 s here for a test's empty server.)"""
    try:
        master = int((root / "run" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        subprocess.run([DOVECOT, "-c", str(conf), "stop"], capture_output=True, check=False)
        return
    family = [master, *child_pids(master)]
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in family):
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of ours stays a zombie until reaped; Dovecot's are not ours.
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(")")[-1].split()[0] == "Z")


@needs_dovecot
def test_a_hosted_mailbox_over_imap_is_read_once(tmp_path: Path, imap_server: int) -> None:
    import imaplib

    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_IMAP_PASSWORD": IMAP_PASSWORD},
        smtp={"return_path": RETURN_PATH},
        imap={
            "host": "127.0.0.1",
            "port": imap_server,
            "tls": "none",
            "username": "bounces@news.example.com",
        },
    )
    db = store.open_store(config.store_path)
    gone, here = _reader(db, "gone@example.org"), _reader(db, "here@example.org")
    verp = _verp(config, gone, _sent(db, "2026-W47", gone, here))
    client = imaplib.IMAP4("127.0.0.1", imap_server)
    client.login("bounces@news.example.com", IMAP_PASSWORD)
    client.select("INBOX")
    away = EmailMessage()
    away["From"], away["To"], away["Subject"] = "here@example.org", "x@y.example", "Out of office"
    away["Auto-Submitted"] = "auto-replied"
    away.set_content("Back on Monday.")
    person = EmailMessage()
    person["From"], person["To"], person["Subject"] = "editor@example.org", RETURN_PATH, "Hi"
    person.set_content("A question for you.")
    messages = [
        _delivered_to(_dsn(verp, "gone@example.org", "5.1.1"), verp),
        away.as_bytes(),
        _nested(300),
        person.as_bytes(),
    ]
    for raw in messages:
        client.append("INBOX", None, None, raw.replace(b"\n", b"\r\n"))
    report = process_return_path(db, config, NOW, imap=True)
    assert report.kinds() == {"bounce": 1, "autoreply": 1, "other": 2}
    assert report.count("bounced") == 1
    assert (
        _status(db, "gone@example.org") == "bounced" and _status(db, "here@example.org") == "active"
    )
    again = process_return_path(db, config, NOW, imap=True)
    assert [m.disposition for m in again.messages] == ["leave"]  # only the person's mail
    client.select("INBOX")
    unseen = client.uid("SEARCH", "UNSEEN")[1][0].split()
    assert len(unseen) == 2  # the person's and the set-aside one, both still unread
    flagged = client.uid("SEARCH", "FLAGGED")[1][0].split()
    assert len(flagged) == 1
    client.logout()


def test_a_wrong_imap_password_is_a_clear_error(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    config = make_config(tmp_path, imap={"host": "127.0.0.1", "port": free_port(), "tls": "none"})
    with pytest.raises(ConfigError, match="DIGEST_IMAP_PASSWORD is not set"):
        process_return_path(store.open_store(config.store_path), config, NOW, imap=True)


def test_with_a_return_path_each_message_goes_from_its_own_signed_one(
    tmp_path: Path, smtp_server: Any
) -> None:
    from digest.content.weeks import week_window
    from digest.delivery.sending import send_edition

    from ..fixtures import load_week

    controller, handler = smtp_server
    config = make_config(
        tmp_path,
        smtp={
            "host": "127.0.0.1",
            "port": controller.port,
            "tls": "none",
            "return_path": "bounces@news.example.com",
        },
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    for received in handler.received:
        assert received.mail_from.startswith("bounces+")
        assert received.mail_from.endswith("@news.example.com")
        found = parse_verp(SECRET, config.list_id, received.mail_from)
        assert found is not None and found[1] == Sent(edition=report.edition_id)
        subscriber = store.get_subscriber_by_id(db, found[0])
        assert subscriber is not None and [subscriber.email] == received.rcpt_tos


def test_process_mail_on_the_command_line_dry_run_then_for_real(tmp_path: Path) -> None:

    from digest.cli import cli
    from digest.config import load_config

    runner = ClockedRunner()
    cfg = tmp_path / "config" / "digest.toml"
    env = {"DIGEST_SECRET": SECRET, "DIGEST_SMTP_HOST": ""}
    assert runner.invoke(cli, ["--config", str(cfg), "init", "--demo"], env=env).exit_code == 0
    assert runner.invoke(cli, ["--config", str(cfg), "send"], env=env).exit_code == 0
    config = load_config(cfg, env)
    db = store.open_store(config.store_path)
    reader = store.get_subscriber(db, "ben.hughes@example.org")
    assert reader is not None
    week = next(iter(store.list_editions(db)))[0].week
    message_id = sign_message_id(SECRET, config.list_id, week, reader.id, "news.example.com")
    raw = _dsn(
        config.sender_address, "ben.hughes@example.org", "5.1.1", f"Message-ID: {message_id}\n"
    )
    box = _maildir(tmp_path / "Maildir", [raw])
    args = ["--config", str(cfg), "process-mail", str(box)]
    dry = runner.invoke(cli, [*args, "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    (entry,) = json.loads(dry.stdout)["messages"]
    assert entry["kind"] == "bounce" and entry["proof"] == "headers"
    assert entry["failures"] == [
        {"address": "ben.hughes@example.org", "hard": True, "status": "5.1.1"}
    ]
    assert entry["action"] == "bounce ben.hughes@example.org"
    assert _status(db, "ben.hughes@example.org") == "active"  # the dry run changed nothing
    result = runner.invoke(cli, args, env=env)
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


@pytest.mark.parametrize(
    ("text", "sent"),
    [("12", Sent(edition=12)), ("p7", Sent(probe=7)), ("2026-W47", None), ("p", None)],
)
def test_what_a_signed_reference_names_is_read_in_one_place(text: str, sent: Sent | None) -> None:
    assert Sent.parse(text) == sent
    if sent is not None:
        assert str(sent) == text  # written and read back the same
