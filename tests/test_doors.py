"""Small doors: odd webhook bodies, one mailbox key for the erased and left checks, the
encodings spreadsheets write, password guessing on Postmark's webhook, and exports that
stay safe in a spreadsheet and come back as the same addresses."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.returns.webhook_auth import Guesses, WebhookRefused
from digest.returns.webhooks import receive
from digest.web.app import create_app

from .conftest import NOW, SECRET, make_config

MAILGUN_KEY = "key-mailgun-signing-0123456789"
POSTMARK_PASSWORD = "postmark-webhook-password"


def _hooked(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        env={
            "DIGEST_SECRET": SECRET,
            "DIGEST_SENDGRID_WEBHOOK_KEY": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            "DIGEST_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
            "DIGEST_POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
        },
        ses={"topic_arns": ["arn:aws:sns:eu-west-1:123456789012:ses-events"]},
    )


def _postmark_auth(password: str = POSTMARK_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"postmark:{password}".encode()).decode()


def _mailgun_signed(stamp: str, token: str = "tok") -> dict[str, str]:
    signature = hmac.new(MAILGUN_KEY.encode(), (stamp + token).encode(), hashlib.sha256)
    return {"timestamp": stamp, "token": token, "signature": signature.hexdigest()}


ODD_BODIES = [b"null", b"[]", b"{}", b'"text"', b"12", b"[null]", b"[[]]", b'{"Type": null}']


@pytest.mark.parametrize("provider", ["ses", "sendgrid", "mailgun", "postmark"])
@pytest.mark.parametrize("body", ODD_BODIES)
def test_odd_webhook_bodies_are_refused_with_a_4xx_never_an_exception(
    tmp_path: Path, provider: str, body: bytes
) -> None:
    config = _hooked(tmp_path)
    db = store.open_store(config.store_path)
    headers = {"Authorization": _postmark_auth()} if provider == "postmark" else {}
    try:
        result = receive(db, config, provider, headers, body, NOW, fetch=lambda url: b"")
    except WebhookRefused as e:
        assert 400 <= e.status < 500, e
    else:
        assert result.plans == []


def test_timestamps_past_any_time_are_refused_not_crashed_on(tmp_path: Path) -> None:
    config = _hooked(tmp_path)
    db = store.open_store(config.store_path)
    stamp = "9" * 20
    mailgun = json.dumps({"signature": _mailgun_signed(stamp), "event-data": None}).encode()
    with pytest.raises(WebhookRefused, match="is not a time") as refused:
        receive(db, config, "mailgun", {}, mailgun, NOW)
    assert refused.value.status == 403
    sendgrid = {
        "X-Twilio-Email-Event-Webhook-Signature": "c2ln",
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }
    with pytest.raises(WebhookRefused, match="is not a time"):
        receive(db, config, "sendgrid", sendgrid, b"[]", NOW)
    sns = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
        "SignatureVersion": "1",
        "Timestamp": "99999-01-01T00:00:00Z",
    }
    with pytest.raises(WebhookRefused, match="not a time"):
        receive(db, config, "ses", {}, json.dumps(sns).encode(), NOW)
    # A signed Mailgun request whose event-data is not an object: no 500 either.
    now = str(int(NOW.timestamp()))
    odd = json.dumps({"signature": _mailgun_signed(now), "event-data": []}).encode()
    assert receive(db, config, "mailgun", {}, odd, NOW).plans == []


def test_odd_bodies_over_http_answer_400_or_403(tmp_path: Path) -> None:
    config = _hooked(tmp_path)
    store.open_store(config.store_path).close()
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with TestClient(app, base_url="https://news.example.com") as client:
        for provider in ("ses", "sendgrid", "mailgun", "postmark"):
            for body in (b"null", b"[]"):
                answer = client.post(
                    f"/webhooks/{provider}",
                    content=body,
                    headers={"Authorization": _postmark_auth(), "Content-Type": "application/json"},
                )
                assert answer.status_code in (400, 401, 403), (provider, body, answer.text)
        stamp = json.dumps({"signature": _mailgun_signed("9" * 20)}).encode()
        assert client.post("/webhooks/mailgun", content=stamp).status_code == 403


def test_postmark_password_guesses_are_limited_per_client(tmp_path: Path) -> None:
    config = _hooked(tmp_path)
    store.open_store(config.store_path).close()
    clock = [NOW]
    app = create_app(config, clock=lambda: clock[0], send_queue=False)
    body = json.dumps({"RecordType": "Delivery", "ID": 1}).encode()
    with TestClient(app, base_url="https://news.example.com") as client:

        def post(password: str, who: str = "203.0.113.9") -> int:
            return client.post(
                "/webhooks/postmark",
                content=body,
                headers={"Authorization": _postmark_auth(password)},
            ).status_code

        assert post(POSTMARK_PASSWORD) == 200
        statuses = [post(f"guess-{n}") for n in range(30)]
        assert statuses[:10] == [403] * 10 and set(statuses[10:]) == {429}
        assert post(POSTMARK_PASSWORD) == 429  # right or wrong, the client waits
        clock[0] = NOW + timedelta(minutes=11)
        assert post(POSTMARK_PASSWORD) == 200


def test_guesses_are_counted_per_client_and_forgotten_after_the_window() -> None:
    guesses = Guesses(limit=3, window=60, most=2)
    for _ in range(3):
        guesses.failed("a", NOW)
    with pytest.raises(WebhookRefused) as refused:
        guesses.check("a", NOW + timedelta(seconds=10))
    assert refused.value.status == 429 and "50 s more" in str(refused.value)
    guesses.check("b", NOW)  # another client is not held up
    guesses.check("a", NOW + timedelta(seconds=61))
    for client in ("c", "d", "e"):
        guesses.failed(client, NOW)
    assert len(guesses._failures) == 2  # bounded memory
