"""Sending through email providers' APIs and learning from their webhooks.

Amazon SES v2 and SNS run as moto's server (a real local endpoint boto3 talks to over
HTTP, through AWS_ENDPOINT_URL). Mailgun's API is a local HTTP server that answers as
Mailgun documents. Webhook requests are signed in the tests with generated keys exactly
the way each provider signs (SNS: RSA over its canonical fields with a certificate;
SendGrid: ECDSA P-256 over timestamp and body; Mailgun: HMAC-SHA256; Postmark: basic
auth), beside the forged, stale and replayed requests that must change nothing.
"""

import base64
import email
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.message import POSTMARK_METADATA
from digest.delivery.replies import api_verdict
from digest.delivery.sending import send_edition
from digest.errors import DeliveryError
from digest.models import DeliveryStatus
from digest.returns.webhooks import receive
from digest.tokens import sign_message_id
from digest.web.app import create_app

from .conftest import NOW, SECRET, make_config, running
from .fixtures import load_week
from .test_dkim import _rsa_key

WEEK = "2026-W47"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
MAILGUN_KEY = "key-mailgun-signing-0123456789"
POSTMARK_PASSWORD = "postmark-webhook-password"
# The webhooks are read on 2026-11-30; NOW (the send) is the Wednesday before.
LATER = NOW + timedelta(days=1)


# ---------------------------------------------------------------- moto's SES and SNS


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's server on 127.0.0.1, and the AWS environment pointing boto3 at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            env.setenv(name, value)
        from digest.delivery.ses import ses_client

        ses_client.cache_clear()
        yield url
        ses_client.cache_clear()
    server.stop()


def _reset(url: str) -> None:
    """moto forgets everything (identities, sent mail) between tests."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))


def _sent_by_ses(url: str) -> list[dict[str, Any]]:
    import urllib.request

    data = json.load(urllib.request.urlopen(f"{url}/moto-api/data.json"))
    return list(data["ses"]["RawMessage"])


def _ses_config(tmp_path: Path, private: str = "") -> Config:
    env = {"DIGEST_SECRET": SECRET}
    sections: dict[str, Any] = {"delivery": {"transport": "ses"}, "smtp": {"retries": 0}}
    if private:
        env["DIGEST_DKIM_PRIVATE_KEY"] = private
        sections["dkim"] = {"domain": "news.example.com", "selector": "wrap2026"}
    return make_config(tmp_path, env=env, **sections)


def test_an_edition_goes_through_ses_as_the_bytes_digest_built(tmp_path: Path, moto: str) -> None:
    import boto3

    _reset(moto)
    private, record = _rsa_key(tmp_path)
    config = _ses_config(tmp_path, private)
    boto3.client("sesv2").create_email_identity(EmailIdentity="news.example.com")
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    sent = _sent_by_ses(moto)
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

    _reset(moto)
    config = _ses_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(DeliveryError, match="authority to send"):
        send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    statuses = {r["status"] for r in db.query("SELECT status FROM subscribers")}
    assert statuses == {"active"}  # an account problem bounces nobody
    assert _sent_by_ses(moto) == []
    boto3.client("sesv2").create_email_identity(EmailIdentity="news.example.com")
    report = send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    assert len(_sent_by_ses(moto)) == 6  # each once


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


class MailgunApi(http.server.ThreadingHTTPServer):
    """Answers messages.mime as Mailgun documents it."""

    received: list[dict[str, Any]]
    refuse_key: bool = False
    refuse: str = ""  # a 400 answer's message for every message ("" = accept)
    accepted: list[str]  # recipients of the messages answered 200


class MailgunHandler(http.server.BaseHTTPRequestHandler):
    server: MailgunApi

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        fields = _form_fields(self.headers["Content-Type"], body)
        expected = "Basic " + base64.b64encode(b"api:key-api").decode()
        if self.server.refuse_key or self.headers["Authorization"] != expected:
            return self._answer(401, {"message": "Forbidden"})
        to = fields["to"].decode()
        self.server.received.append({"path": self.path, **fields})
        if to.startswith("bad"):
            return self._answer(400, {"message": "'to' parameter is not a valid address."})
        if self.server.refuse:
            return self._answer(400, {"message": self.server.refuse})
        self.server.accepted.append(to)
        n = len(self.server.received)
        self._answer(200, {"id": f"<{n}.mailgun@mg.example.com>", "message": "Queued."})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """multipart/form-data fields, each value as its exact bytes."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields[name] = value.removesuffix(b"\r\n")
    return fields


@pytest.fixture
def mailgun_api() -> Iterator[MailgunApi]:
    server = MailgunApi(("127.0.0.1", 0), MailgunHandler)
    server.received, server.accepted = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


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
    from digest.delivery.transports import transport_name

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


# ---------------------------------------------------------------- webhooks


@pytest.fixture
def sent(tmp_path: Path) -> tuple[Config, Any, ec.EllipticCurvePrivateKey, Any]:
    """The week sent to the outbox, with every provider's webhook secret configured."""
    sendgrid = ec.generate_private_key(ec.SECP256R1())
    public = sendgrid.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = make_config(
        tmp_path,
        env={
            "DIGEST_SECRET": SECRET,
            "DIGEST_SENDGRID_WEBHOOK_KEY": base64.b64encode(public).decode(),
            "DIGEST_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
            "DIGEST_POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
        },
        ses={"topic_arns": [TOPIC]},
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    return config, db, sendgrid, _sns_signer()


def _message_id(config: Config, db: Any, address: str) -> str:
    """The signed Message-ID digest gave its message to ``address``."""
    subscriber = store.get_subscriber(db, address)
    assert subscriber is not None
    domain = config.sender_address.rpartition("@")[2]
    return sign_message_id(config.secret, config.list_id, WEEK, subscriber.id, domain)


def _status(db: Any, address: str) -> str:
    subscriber = store.get_subscriber(db, address)
    assert subscriber is not None
    return str(subscriber.status)


# SNS: an RSA key and a certificate, as AWS signs with.


class SnsSigner:
    """Signs as SNS does, with a certificate valid for a year either side of ``around``
    (the suite's clock, so no date makes it expire)."""

    def __init__(self, around: datetime = NOW) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(around - timedelta(days=365))
            .not_valid_after(around + timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        """The certificate, from the one URL that has it (SNS's host is checked first)."""
        self.fetched.append(url)
        assert url == CERT_URL
        return self.pem

    def any(self, url: str) -> bytes:
        """This certificate for any URL (moto names its own)."""
        self.fetched.append(url)
        return self.pem

    def sign(self, message: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        """SignatureVersion 2: SHA256withRSA over "name\\nvalue\\n" of the fields."""
        text = "".join(f"{k}\n{message[k]}\n" for k in fields if k in message)
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return {
            **message,
            "SignatureVersion": "2",
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": CERT_URL,
        }


def _sns_signer() -> SnsSigner:
    return SnsSigner()


NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")


def _sns(signer: SnsSigner, notification: dict[str, Any], **over: Any) -> bytes:
    message = {
        "Type": "Notification",
        "MessageId": over.pop("MessageId", "5c1f-0001"),
        "TopicArn": TOPIC,
        "Message": json.dumps(notification),
        "Timestamp": over.pop("Timestamp", LATER.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        **over,
    }
    return json.dumps(signer.sign(message, NOTIFICATION_FIELDS)).encode()


def _ses_bounce(address: str, message_id: str = "", ses_id: str = "ses-1") -> dict[str, Any]:
    mail: dict[str, Any] = {"messageId": ses_id, "source": "wrap@news.example.com"}
    if message_id:
        mail["commonHeaders"] = {"messageId": message_id}
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
        "mail": mail,
    }


def _hook(
    config: Config, db: Any, provider: str, body: bytes, signer: Any = None, **headers: str
) -> Any:
    return receive(
        db,
        config,
        provider,
        headers,
        body,
        LATER,
        fetch=signer.fetch if signer else lambda url: b"",
        confirm=lambda url: None,
    )


def test_a_signed_ses_bounce_bounces_the_reader_once(sent: Any) -> None:
    config, db, _, signer = sent
    ann = "ben.hughes@example.org"
    body = _sns(signer, _ses_bounce(ann, _message_id(config, db, ann)))
    result = _hook(config, db, "ses", body, signer)
    assert [p.proof.how for p in result.plans] == ["headers"]
    assert _status(db, ann) == "bounced"
    subscriber = store.get_subscriber(db, ann)
    assert subscriber is not None
    assert ("bounced", "ses") in store.subscriber_events(db, subscriber.id)
    again = _hook(config, db, "ses", body, signer)  # SNS retries: taken once
    assert again.repeated == 1 and again.plans == []


@pytest.mark.parametrize(
    "forgery",
    ["bad-signature", "other-topic", "foreign-certificate", "stale", "unsigned"],
)
def test_a_forged_or_stale_sns_message_changes_nothing(sent: Any, forgery: str) -> None:
    from digest.returns.webhook_auth import WebhookRefused

    config, db, _, signer = sent
    ann = "ben.hughes@example.org"
    notification = _ses_bounce(ann, _message_id(config, db, ann))
    body = json.loads(_sns(signer, notification))
    if forgery == "bad-signature":
        body["Message"] = body["Message"].replace("Permanent", "Permanent ")
    elif forgery == "other-topic":
        body = json.loads(_sns(signer, notification, TopicArn="arn:aws:sns:us-east-1:999:mine"))
    elif forgery == "foreign-certificate":
        body["SigningCertURL"] = "https://sns.evil.example.com/cert.pem"
    elif forgery == "stale":
        old = (LATER - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body = json.loads(_sns(signer, notification, Timestamp=old))
    else:
        del body["Signature"]
    with pytest.raises(WebhookRefused) as refused:
        _hook(config, db, "ses", json.dumps(body).encode(), signer)
    assert refused.value.status == 403
    assert _status(db, ann) == "active"


def test_an_ses_event_names_its_message_by_the_id_ses_gave_it(sent: Any) -> None:
    config, db, _, signer = sent
    frida = store.get_subscriber(db, "frida.nilsen@example.com")
    assert frida is not None
    db.execute("UPDATE deliveries SET provider_id = 'ses-42' WHERE subscriber_id = ?", [frida.id])
    result = _hook(config, db, "ses", _sns(signer, _ses_bounce(frida.email, "", "ses-42")), signer)
    assert [p.proof.how for p in result.plans] == ["provider"]
    assert _status(db, frida.email) == "bounced"


def test_an_event_naming_an_address_alone_changes_nobody(sent: Any) -> None:
    config, db, _, signer = sent
    ann = "ben.hughes@example.org"
    result = _hook(config, db, "ses", _sns(signer, _ses_bounce(ann, "", "unknown-id")), signer)
    assert _status(db, ann) == "active"
    assert [c.what for p in result.plans for c in p.changes] == ["probe"]  # asked, not obeyed


def test_an_sns_subscription_is_confirmed_only_for_a_listed_topic(sent: Any) -> None:
    config, db, _, signer = sent
    fields = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "c-1",
        "Token": "tok",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
        "Timestamp": LATER.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    visited: list[str] = []
    body = json.dumps(signer.sign(message, fields)).encode()
    result = receive(db, config, "ses", {}, body, LATER, fetch=signer.fetch, confirm=visited.append)
    assert result.confirmed == TOPIC and visited == [message["SubscribeURL"]]


def _sendgrid(
    key: ec.EllipticCurvePrivateKey, events: list[dict[str, Any]], when: datetime
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    stamp = str(int(when.timestamp()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def test_sendgrid_events_signed_with_its_key(sent: Any) -> None:
    config, db, key, _ = sent
    events = [
        {
            "email": "ben.hughes@example.org",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "smtp-id": _message_id(config, db, "ben.hughes@example.org"),
            "sg_event_id": "e1",
        },
        {
            "email": "chen.wei@example.com",
            "event": "spamreport",
            "smtp-id": _message_id(config, db, "chen.wei@example.com"),
            "sg_event_id": "e2",
        },
        {
            "email": "dora.kim@example.com",
            "event": "unsubscribe",
            "smtp-id": _message_id(config, db, "dora.kim@example.com"),
            "sg_event_id": "e3",
        },
        {"email": "ana.sousa@example.org", "event": "delivered", "sg_event_id": "e4"},
        # dropped for the sender's own mistake, not the reader's address
        {
            "email": "ana.sousa@example.org",
            "event": "dropped",
            "reason": "Invalid SMTPAPI header",
            "smtp-id": _message_id(config, db, "ana.sousa@example.org"),
            "sg_event_id": "e6",
        },
        # Signed by SendGrid, but about no message digest sent: nobody changes.
        {"email": "emeka.obi@example.org", "event": "spamreport", "sg_event_id": "e5"},
    ]
    body, headers = _sendgrid(key, events, LATER)
    _hook(config, db, "sendgrid", body, **headers)
    assert _status(db, "ben.hughes@example.org") == "bounced"
    assert _status(db, "chen.wei@example.com") == "unsubscribed"
    assert _status(db, "dora.kim@example.com") == "unsubscribed"
    assert _status(db, "ana.sousa@example.org") == "active"
    assert _status(db, "emeka.obi@example.org") == "active"


@pytest.mark.parametrize("forgery", ["other-key", "altered", "stale", "no-signature"])
def test_a_forged_sendgrid_request_changes_nothing(sent: Any, forgery: str) -> None:
    from digest.returns.webhook_auth import WebhookRefused

    config, db, key, _ = sent
    event = {
        "email": "ben.hughes@example.org",
        "event": "spamreport",
        "smtp-id": _message_id(config, db, "ben.hughes@example.org"),
        "sg_event_id": "x1",
    }
    signer = ec.generate_private_key(ec.SECP256R1()) if forgery == "other-key" else key
    when = LATER - timedelta(hours=1) if forgery == "stale" else LATER
    body, headers = _sendgrid(signer, [event], when)
    if forgery == "altered":
        body = body.replace(b"spamreport", b"unsubscribe")
    if forgery == "no-signature":
        headers = {}
    with pytest.raises(WebhookRefused) as refused:
        _hook(config, db, "sendgrid", body, **headers)
    assert refused.value.status == (401 if forgery == "no-signature" else 403)
    assert _status(db, "ben.hughes@example.org") == "active"


def _mailgun(
    event: dict[str, Any], when: datetime, token: str = "tok-1", key: str = MAILGUN_KEY
) -> bytes:
    stamp = str(int(when.timestamp()))
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": stamp, "token": token, "signature": signature},
            "event-data": event,
        }
    ).encode()


def test_mailgun_events_with_its_signature_and_never_twice(sent: Any) -> None:
    from digest.returns.webhook_auth import WebhookRefused

    config, db, _, _ = sent
    ben = "ben.hughes@example.org"
    failed = {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": ben,
        "id": "mg-1",
        "message": {"headers": {"message-id": _message_id(config, db, ben).strip("<>")}},
        "delivery-status": {"code": 550, "message": "5.1.1 user unknown"},
    }
    body = _mailgun(failed, LATER)
    _hook(config, db, "mailgun", body)
    assert _status(db, ben) == "bounced"
    chen = "chen.wei@example.com"
    complained = {
        "event": "complained",
        "recipient": chen,
        "id": "mg-2",
        "message": {"headers": {"message-id": _message_id(config, db, chen).strip("<>")}},
    }
    with pytest.raises(WebhookRefused):  # the same signature again: a replay
        _hook(config, db, "mailgun", _mailgun(complained, LATER))
    with pytest.raises(WebhookRefused):  # a wrong key
        _hook(config, db, "mailgun", _mailgun(complained, LATER, "tok-2", "key-other"))
    with pytest.raises(WebhookRefused):  # too old
        _hook(config, db, "mailgun", _mailgun(complained, LATER - timedelta(hours=1), "tok-3"))
    assert _status(db, chen) == "active"
    _hook(config, db, "mailgun", _mailgun(complained, LATER, "tok-4"))
    assert _status(db, chen) == "unsubscribed"


def test_postmark_events_with_its_password(sent: Any) -> None:
    from digest.returns.webhook_auth import WebhookRefused

    config, db, _, _ = sent
    ben = "ben.hughes@example.org"
    bounce = {
        "RecordType": "Bounce",
        "ID": 42,
        "Type": "HardBounce",
        "Email": ben,
        "MessageID": "pm-1",
        "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 user unknown",
        "Metadata": {"digest-message-id": _message_id(config, db, ben).strip("<>")},
    }
    body = json.dumps(bounce).encode()
    wrong = "Basic " + base64.b64encode(b"postmark:guess").decode()
    with pytest.raises(WebhookRefused) as refused:
        _hook(config, db, "postmark", body, Authorization=wrong)
    assert refused.value.status == 403
    with pytest.raises(WebhookRefused) as refused:
        _hook(config, db, "postmark", body)
    assert refused.value.status == 401
    assert _status(db, ben) == "active"
    right = "Basic " + base64.b64encode(f"postmark:{POSTMARK_PASSWORD}".encode()).decode()
    _hook(config, db, "postmark", body, Authorization=right)
    assert _status(db, ben) == "bounced"


def test_a_signed_permanent_ses_bounce_without_a_status_is_ses_s_verdict(sent: Any) -> None:
    """SES's Permanent bounce whose recipient has no DSN status is hard when SNS signed
    it and it names a message digest sent; words that say otherwise, or a Transient
    bounce, keep the reader."""
    config, db, _, signer = sent
    cases = [
        ("ben.hughes@example.org", "Permanent", "General", {}, "bounced"),
        ("ana.sousa@example.org", "Permanent", "NoEmail", {"status": "5.0.0"}, "bounced"),
        (
            "chen.wei@example.com",
            "Permanent",
            "General",
            {"diagnosticCode": "mailbox full"},
            "active",
        ),
        ("dora.kim@example.com", "Transient", "General", {}, "active"),
    ]
    for n, (address, kind, subtype, recipient, outcome) in enumerate(cases):
        notification = _ses_bounce(address, _message_id(config, db, address), f"ses-{n}")
        notification["bounce"] = {
            "bounceType": kind,
            "bounceSubType": subtype,
            "bouncedRecipients": [{"emailAddress": address, **recipient}],
        }
        _hook(config, db, "ses", _sns(signer, notification, MessageId=f"m-{n}"), signer)
        assert _status(db, address) == outcome, address
    # the same notification by mail (SNS's email subscription) is not signed: it wants
    # a code or words, as any returned mail
    notification = _ses_bounce("emeka.obi@example.org", "", "ses-9")
    notification["bounce"]["bouncedRecipients"] = [{"emailAddress": "emeka.obi@example.org"}]
    assert not _classify_ses_mail(notification).failures[0].hard


def _classify_ses_mail(notification: dict[str, Any]) -> Any:
    from digest.returns.bounces import classify

    raw = (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@news.example.com\n"
        "Subject: AWS Notification Message\n\n" + json.dumps(notification) + "\n"
    ).encode()
    return classify(raw)


def test_postmark_suppressions_and_unsubscribes_say_why(sent: Any) -> None:
    """A SubscriptionChange that suppresses for a hard bounce bounces, for a complaint
    unsubscribes as one, for a manual suppression unsubscribes; an Unsubscribe bounce
    type is the reader leaving, not a bounce; a reactivation changes nothing; and each
    only with the password and for a message digest sent."""
    config, db, _, _ = sent
    right = "Basic " + base64.b64encode(f"postmark:{POSTMARK_PASSWORD}".encode()).decode()

    def event(address: str, n: int, **fields: Any) -> bytes:
        metadata = {"digest-message-id": _message_id(config, db, address).strip("<>")}
        return json.dumps({"ID": n, "Email": address, "Metadata": metadata, **fields}).encode()

    change = {"RecordType": "SubscriptionChange", "SuppressSending": True}
    cases = [
        ("ben.hughes@example.org", {**change, "SuppressionReason": "HardBounce"}, "bounced"),
        ("ana.sousa@example.org", {**change, "SuppressionReason": "SpamComplaint"}, "unsubscribed"),
        ("chen.wei@example.com", {"RecordType": "Bounce", "Type": "Unsubscribe"}, "unsubscribed"),
        ("dora.kim@example.com", {**change, "SuppressSending": False}, "active"),
        # an auto-responder Postmark files among its bounce types is no bounce
        ("frida.nilsen@example.com", {"RecordType": "Bounce", "Type": "AutoResponder"}, "active"),
    ]
    unsigned = event("emeka.obi@example.org", 99, **cases[0][1])
    from digest.returns.webhook_auth import WebhookRefused

    with pytest.raises(WebhookRefused):
        _hook(config, db, "postmark", unsigned)
    assert _status(db, "emeka.obi@example.org") == "active"
    for n, (address, fields, outcome) in enumerate(cases):
        _hook(config, db, "postmark", event(address, n, **fields), Authorization=right)
        assert _status(db, address) == outcome, address
    chen = store.get_subscriber(db, "chen.wei@example.com")
    assert chen is not None and "bounced" not in dict(store.subscriber_events(db, chen.id))
    frida = store.get_subscriber(db, "frida.nilsen@example.com")
    assert frida is not None and "soft-bounce" not in dict(store.subscriber_events(db, frida.id))
    # tied to nothing digest sent: an address alone is only asked (a probe), never obeyed
    loose = json.dumps({"ID": 7, "Email": "emeka.obi@example.org", **cases[0][1]}).encode()
    result = _hook(config, db, "postmark", loose, Authorization=right)
    assert _status(db, "emeka.obi@example.org") == "active"
    assert [c.what for p in result.plans for c in p.changes] == ["probe"]


def test_postmark_messages_carry_the_metadata_its_events_echo(tmp_path: Path) -> None:
    config = make_config(tmp_path, delivery={"provider": "postmark"})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    send_edition(config, db, week_window(WEEK, config.tz), lambda: NOW)
    eml = next((config.outbox_path / WEEK).glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes())
    assert f"<{message[POSTMARK_METADATA]}>" == message["Message-ID"]


def test_webhooks_over_http_and_moto_sns_cannot_sign_as_aws(
    sent: Any, moto: str, caplog: pytest.LogCaptureFixture
) -> None:
    """moto's SNS delivers to the running webhook over HTTP; its signature is not AWS's,
    so the subscription is never confirmed and its notifications change nothing."""
    import boto3

    config, db, _, signer = sent
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="ses-events")["TopicArn"]
    from dataclasses import replace

    listed = replace(config, ses=replace(config.ses, topic_arns=(topic,)))
    # moto stamps what it posts with the machine's time, so this one webhook judges its
    # replay window by the machine's clock, with a certificate valid around that time.
    signer = SnsSigner(around=datetime.now(UTC))
    app = create_app(
        listed, clock=lambda: datetime.now(UTC), send_queue=False, certificates=signer.any
    )
    with running(app) as port:
        endpoint = f"http://127.0.0.1:{port}/webhooks/ses"
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)
        ben = "ben.hughes@example.org"
        sns.publish(
            TopicArn=topic, Message=json.dumps(_ses_bounce(ben, _message_id(config, db, ben)))
        )
        with TestClient(app, base_url="https://news.example.com") as client:
            answer = client.post("/webhooks/ses", content=b'{"Type": "Notification"}')
            assert answer.status_code == 403
    refused = [r.getMessage() for r in caplog.records if "webhook ses refused" in r.getMessage()]
    assert any("signature does not verify" in m for m in refused)  # moto's, refused
    assert _status(db, ben) == "active"
    assert next(db.query("SELECT count(*) AS n FROM webhook_events"))["n"] == 0


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
def test_an_ses_answer_about_the_run_bounces_nobody_and_moto_then_gets_each_once(
    tmp_path: Path,
    moto: str,
    web_page: Any,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    stopped: str,
) -> None:
    import boto3

    from digest.delivery.ses import ses_client

    _reset(moto)
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
    recipients = [str(m["destinations"]) for m in _sent_by_ses(moto)]
    assert len(recipients) == len(set(recipients)) == READERS


def test_mailgun_suppressions_say_who_left_and_who_complained(sent: Any) -> None:
    """A permanent failure Mailgun gives for its own suppression lists is what put the
    address there: an unsubscribe, a complaint; never a bounce."""
    config, db, _, _ = sent
    for n, (address, reason, outcome, event) in enumerate(
        [
            ("ana.sousa@example.org", "suppress-unsubscribe", "unsubscribed", "unsubscribed"),
            ("emeka.obi@example.org", "suppress-complaint", "unsubscribed", "complaint"),
        ]
    ):
        failed = {
            "event": "failed",
            "severity": "permanent",
            "reason": reason,
            "recipient": address,
            "id": f"mg-s{n}",
            "message": {"headers": {"message-id": _message_id(config, db, address).strip("<>")}},
        }
        _hook(config, db, "mailgun", _mailgun(failed, LATER, f"tok-s{n}"))
        assert _status(db, address) == outcome
        reader = store.get_subscriber(db, address)
        assert reader is not None and event in dict(store.subscriber_events(db, reader.id))
