"""Sending through email providers' APIs: Amazon SES v2 as moto's server (a real local
endpoint boto3 talks to over HTTP, through AWS_ENDPOINT_URL) and Mailgun as a local HTTP
server that answers as Mailgun documents (tests/providers.py): the raw message digest
built, the provider's id kept, and answers about the run (the sender, the request, an
endpoint that is not the provider's) that bounce nobody.
"""

import email
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dkim
import pytest

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import DeliveryError
from digest.mail.replies import api_verdict
from digest.models import DeliveryStatus

from ..conftest import NOW, SECRET, make_config
from ..fixtures import load_week, rsa_key
from ..providers import MailgunApi, reset, sent_by_ses

WEEK = "2026-W47"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
MAILGUN_KEY = "key-mailgun-signing-0123456789"
POSTMARK_PASSWORD = "postmark-webhook-password"
# The webhooks are read on 2026-11-30; NOW (the send) is the Wednesday before.
LATER = NOW + timedelta(days=1)


# ---------------------------------------------------------------- moto's SES and SNS


def _ses_config(tmp_path: Path, private: str = "") -> Config:
    env = {"DIGEST_SECRET": SECRET}
    sections: dict[str, Any] = {"delivery": {"transport": "ses"}, "smtp": {"retries": 0}}
    if private:
        env["DIGEST_DKIM_PRIVATE_KEY"] = private
        sections["dkim"] = {"domain": "news.example.com", "selector": "wrap2026"}
    return make_config(tmp_path, env=env, **sections)


def test_an_edition_goes_through_ses_as_the_bytes_digest_built(tmp_path: Path, moto: str) -> None:
    import boto3

    reset(moto)
    private, record = rsa_key(tmp_path)
    config = _ses_config(tmp_path, private)
    boto3.client("sesv2").create_email_identity(EmailIdentity="news.example.com")
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    sent = sent_by_ses(moto)
    assert len(sent) == 6
    for message in sent:
        raw = message["raw_data"].encode("utf-8")  # moto keeps it as text
        # The DKIM signature digest made still verifies: not a byte changed on the way.
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
        parsed = email.message_from_bytes(raw)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/unsubscribe/" in parsed["List-Unsubscribe"]
    # SES's id of each message is in the ledger: its events name messages by it.
    ids = {r["provider_id"] for r in db.query("SELECT provider_id FROM deliveries")}
    assert ids == {m["id"] for m in sent}


def test_an_identity_ses_refuses_stops_the_run_and_a_resume_sends_each_once(
    tmp_path: Path, moto: str
) -> None:
    import boto3

    reset(moto)
    config = _ses_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(DeliveryError, match="authority to send"):
        send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    statuses = {r["status"] for r in db.query("SELECT status FROM subscribers")}
    assert statuses == {"active"}  # an account problem bounces nobody
    assert sent_by_ses(moto) == []
    boto3.client("sesv2").create_email_identity(EmailIdentity="news.example.com")
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    assert len(sent_by_ses(moto)) == 6  # each once


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        (("ses", 400, "MessageRejected", "Email address is not verified."), "stops"),
        (("ses", 400, "AccountSendingPausedException", "Sending is paused."), "stops"),
        (("ses", 400, "LimitExceededException", "Daily message quota exceeded."), "stops"),
        (("ses", 429, "TooManyRequestsException", "Maximum sending rate exceeded."), "later"),
        (("ses", 503, "ServiceUnavailable", "Service unavailable"), "later"),
        (("ses", 400, "BadRequestException", "Illegal address", "ann@example.org"), "stops"),
        (("ses", 400, "BadRequestException", "Illegal address", "ann@@example"), "bounces"),
        (("ses", 400, "BadRequestException", "Illegal address"), "bounces"),
        (("ses", 400, "MessageRejected", "Message contains a virus"), "fails"),
        (("mailgun", 401, "", "Forbidden"), "stops"),
        (("mailgun", 400, "", "'to' parameter is not a valid address."), "bounces"),
        (("mailgun", 400, "", "'from' parameter is not a valid address."), "stops"),
        (("mailgun", 400, "", "'from' parameter is missing"), "stops"),
        (("ses", 400, "MessageRejected", "Source not specified"), "stops"),
        (("mailgun", 413, "", "Message too large"), "fails"),
    ],
)
def test_provider_errors_go_through_the_smtp_table(args: Any, outcome: str) -> None:
    verdict = api_verdict(*args)
    found = (
        "stops"
        if verdict.stops_run
        else "bounces"
        if verdict.bounces_reader
        else "later"
        if verdict.status == DeliveryStatus.DEFERRED
        else "fails"
    )
    assert found == outcome
    assert verdict.bounces_reader == (outcome == "bounces")


# ---------------------------------------------------------------- Mailgun's API


def _mailgun_config(tmp_path: Path, api: MailgunApi) -> Config:
    return make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_MAILGUN_API_KEY": "key-api"},
        delivery={"transport": "mailgun"},
        mailgun={
            "domain": "mg.example.com",
            "base_url": f"http://127.0.0.1:{api.server_address[1]}",
        },
        smtp={"retries": 0},
    )


def test_send_names_the_provider_it_sent_through(tmp_path: Path) -> None:
    from digest.mail.transports import transport_name

    outbox = tmp_path / "outbox" / WEEK
    ses = make_config(tmp_path, delivery={"transport": "ses"}, ses={"region": "eu-west-1"})
    assert transport_name(ses, outbox) == "Amazon SES API (eu-west-1)"
    mailgun = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_MAILGUN_API_KEY": "key-1"},
        delivery={"transport": "mailgun"},
        mailgun={"domain": "mg.example.com"},
    )
    assert transport_name(mailgun, outbox).startswith("Mailgun API (mg.example.com at https://")
    assert transport_name(make_config(tmp_path), outbox) == f"outbox {outbox}"


def test_mailgun_gets_the_raw_message_and_a_refused_address_bounces_that_reader(
    tmp_path: Path, mailgun_api: MailgunApi
) -> None:
    config = _mailgun_config(tmp_path, mailgun_api)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    store.insert_subscriber(db, "bad@example.org", "", [], NOW)
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and (report.count("sent"), report.count("bounced")) == (6, 1)
    first = mailgun_api.received[0]
    assert first["path"] == "/v3/mg.example.com/messages.mime"
    assert first["o:tracking"] == b"no"  # Mailgun rewrites nothing
    message = email.message_from_bytes(first["message"])
    assert message["Message-ID"] and message["List-Unsubscribe"]
    assert store.get_subscriber(db, "bad@example.org").status == "bounced"  # type: ignore[union-attr]
    ids = {r["provider_id"] for r in db.query("SELECT provider_id FROM deliveries")} - {""}
    assert len(ids) == 6 and all(i.endswith(".mailgun@mg.example.com") for i in ids)


def test_a_key_mailgun_refuses_stops_the_run_and_bounces_nobody(
    tmp_path: Path, mailgun_api: MailgunApi
) -> None:
    mailgun_api.refuse_key = True
    config = _mailgun_config(tmp_path, mailgun_api)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(DeliveryError, match="HTTP 401"):
        send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert {r["status"] for r in db.query("SELECT status FROM subscribers")} == {"active"}
    open_rows = db.query("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'")
    assert next(open_rows)["n"] == 6  # left for the resume


# ---------------------------------------------------------------- answers about the run

READERS = 36  # the 6 of the week and 30 more


def _list_of(config: Config) -> Any:
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    for i in range(READERS - 6):
        store.insert_subscriber(db, f"reader{i:02d}@example.org", "", [], NOW)
    return db


def _nobody_bounced_and_all_open(db: Any) -> None:
    assert {r["status"] for r in db.query("SELECT status FROM subscribers")} == {"active"}
    statuses = [r["status"] for r in db.query("SELECT status FROM deliveries")]
    assert len(statuses) == READERS and set(statuses) <= {"pending", "deferred"}


@pytest.mark.parametrize(
    ("refusal", "stopped"),
    [
        (
            "'from' parameter is not a valid address. Please check documentation",
            "[newsletter] from",
        ),
        ("'to' parameter is not a valid address. Please check documentation", "accepted none"),
    ],
    ids=["from", "to-for-everyone"],
)
@pytest.mark.slow
def test_a_mailgun_refusal_of_every_message_bounces_nobody_and_a_resume_sends_each_once(
    tmp_path: Path, mailgun_api: MailgunApi, refusal: str, stopped: str
) -> None:
    mailgun_api.refuse = refusal
    config = _mailgun_config(tmp_path, mailgun_api)
    db = _list_of(config)
    with pytest.raises(DeliveryError) as refused:
        send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert refusal.split(".")[0] in str(refused.value) and stopped in str(refused.value)
    _nobody_bounced_and_all_open(db)
    mailgun_api.refuse = ""  # the sender fixed
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == READERS
    assert len(mailgun_api.accepted) == len(set(mailgun_api.accepted)) == READERS


class WebPage(http.server.BaseHTTPRequestHandler):
    """An ordinary web site: a page for every request, 200, or SES's own error."""

    answer = "page"  # or "no-such-page" (404), "ses-illegal-address"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.answer in ("page", "no-such-page"):
            status, kind = (200 if self.answer == "page" else 404), "text/html; charset=utf-8"
            body = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
        else:  # what SES v2 answers for an address it cannot parse
            status, kind = 400, "application/json"
            body = json.dumps({"message": "Illegal address"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status == 400:
            self.send_header("x-amzn-ErrorType", "BadRequestException")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web_page() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_a_mailgun_url_at_an_ordinary_web_page_counts_nothing_and_names_the_setting(
    tmp_path: Path, mailgun_api: MailgunApi, web_page: Any
) -> None:
    from dataclasses import replace

    config = _mailgun_config(tmp_path, mailgun_api)
    site = f"http://127.0.0.1:{web_page.server_address[1]}"
    wrong = replace(config, mailgun=replace(config.mailgun, base_url=site))
    db = _list_of(config)
    with pytest.raises(DeliveryError) as stopped:
        send_edition(wrong, db, week_window(WEEK, wrong.tz), lambda: NOW)
    said = str(stopped.value)
    assert "not Mailgun's API" in said and "[mailgun] base_url" in said and "text/html" in said
    _nobody_bounced_and_all_open(db)
    assert next(db.query("SELECT count(*) AS n FROM deliveries WHERE provider_id != ''"))["n"] == 0
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == READERS
    assert len(mailgun_api.accepted) == len(set(mailgun_api.accepted)) == READERS


@pytest.mark.parametrize(
    ("answer", "stopped"),
    [
        ("ses-illegal-address", "[newsletter] from"),  # about the sender, not the reader
        ("page", "AWS_ENDPOINT_URL"),  # a 200 that is not SES's
        ("no-such-page", "AWS_ENDPOINT_URL"),  # a web site's 404, no SES error in it
    ],
)
@pytest.mark.slow
def test_an_ses_answer_about_the_run_bounces_nobody_and_moto_then_gets_each_once(
    tmp_path: Path,
    moto: str,
    web_page: Any,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    stopped: str,
) -> None:
    import boto3

    from digest.mail.ses import ses_client

    reset(moto)
    boto3.client("sesv2").create_email_identity(EmailIdentity="news.example.com")
    config = _ses_config(tmp_path)
    db = _list_of(config)
    monkeypatch.setattr(WebPage, "answer", answer)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{web_page.server_address[1]}")
    ses_client.cache_clear()
    try:
        with pytest.raises(DeliveryError) as refused:
            send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    finally:
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
        ses_client.cache_clear()
    assert stopped in str(refused.value)
    _nobody_bounced_and_all_open(db)
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == READERS
    recipients = [str(m["destinations"]) for m in sent_by_ses(moto)]
    assert len(recipients) == len(set(recipients)) == READERS
