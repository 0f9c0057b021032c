"""Learning from providers' signed webhooks: SES through SNS, SendGrid, Mailgun and
Postmark, each request signed in the test with a generated key exactly the way the
provider signs (SNS: RSA over its canonical fields with a certificate; SendGrid: ECDSA
P-256 over timestamp and body; Mailgun: HMAC-SHA256; Postmark: basic auth), beside the
forged, stale and replayed requests that must change nothing, and each provider's own
verdicts read as it means them.
"""

import base64
import email
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.mail.message import POSTMARK_METADATA
from digest.returns.webhooks import receive
from digest.tokens import sign_message_id
from digest.web.app import create_app

from ..conftest import NOW, SECRET, make_config, running
from ..fixtures import load_week

WEEK = "2026-W47"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
MAILGUN_KEY = "key-mailgun-signing-0123456789"
POSTMARK_PASSWORD = "postmark-webhook-password"
# The webhooks are read on 2026-11-30; NOW (the send) is the Wednesday before.
LATER = NOW + timedelta(days=1)


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


# ---------------------------------------------------------------- webhooks: providers' verdicts


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
