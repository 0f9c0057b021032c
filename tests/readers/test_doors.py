"""Small doors: odd webhook bodies, one mailbox key for the erased and left checks, the
encodings spreadsheets write, password guessing on Postmark's webhook, and exports that
stay safe in a spreadsheet and come back as the same addresses."""

import base64
import csv
import hashlib
import hmac
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.addresses import mailbox_key
from digest.cli import cli
from digest.config import Config
from digest.errors import IngestError, SubscriberError, SubscriberKeptError
from digest.readers.subscribers import (
    add_subscriber,
    export_subscribers,
    import_subscribers,
    remove_subscriber,
)
from digest.returns.webhook_auth import Guesses, WebhookRefused
from digest.returns.webhooks import receive
from digest.web.app import create_app

from ..conftest import NOW, SECRET, ClockedRunner, make_config

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


# ---------------------------------------------------------------- one mailbox key


SPELLINGS = ["Ann.Lee+news@GoogleMail.com", "annlee@gmail.com", "ANN.LEE@gmail.com"]


def test_one_mailbox_key_folds_case_tags_dots_and_googlemail() -> None:
    assert {mailbox_key(a) for a in SPELLINGS} == {"annlee@gmail.com"}
    assert mailbox_key("Ann.Lee+x@Example.org") == "ann.lee@example.org"  # dots count there


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_erased_reader_does_not_come_back_under_another_spelling(
    config: Config, tmp_path: Path, spelling: str
) -> None:
    db = store.open_store(config.store_path)
    add_subscriber(db, config, "ann.lee@googlemail.com", "Ann", "", NOW)
    remove_subscriber(db, config, "ann.lee@googlemail.com", NOW, forget=True)
    with pytest.raises(SubscriberError, match="erased"):
        add_subscriber(db, config, spelling, "Ann", "", NOW)
    export = tmp_path / "old.csv"
    export.write_text(f"email,name\n{spelling},Ann\n")
    report = import_subscribers(db, export, NOW, config)
    assert report.suppressed == 1 and list(store.iter_subscribers(db)) == []


def test_an_erasure_kept_by_the_older_key_is_still_honoured(config: Config) -> None:
    db = store.open_store(config.store_path)
    # The suppression list of a store from before googlemail.com was folded into gmail.com.
    legacy = _legacy_hash(config.secret, "ann.lee@googlemail.com")
    store.suppress(db, legacy, "erased on request", NOW)
    for spelling in ("ann.lee@googlemail.com", "annlee+x@googlemail.com"):
        with pytest.raises(SubscriberError, match="erased"):
            add_subscriber(db, config, spelling, "", "", NOW)


def _legacy_hash(secret: str, address: str) -> str:
    key = mailbox_key(address, aliases=False).encode()
    return hmac.new(secret.encode(), b"suppression\x00" + key, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_reader_who_left_is_not_added_again_under_another_spelling(
    config: Config, tmp_path: Path, spelling: str
) -> None:
    db = store.open_store(config.store_path)
    add_subscriber(db, config, "ann.lee@googlemail.com", "Ann", "", NOW)
    remove_subscriber(db, config, "ann.lee@googlemail.com", NOW)
    with pytest.raises(SubscriberKeptError):
        add_subscriber(db, config, spelling, "Ann", "", NOW)
    export = tmp_path / "old.csv"
    export.write_text(f"email,name\n{spelling},Ann\n")
    report = import_subscribers(db, export, NOW, config)
    assert report.kept == 1
    assert [s.status for s in store.iter_subscribers(db)] == ["unsubscribed"]


def test_an_export_saying_another_spelling_left_takes_the_reader_off(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    add_subscriber(db, config, "annlee@gmail.com", "Ann", "", NOW)
    export = tmp_path / "old.csv"
    export.write_text("email,name,status\nAnn.Lee+list@googlemail.com,Ann,unsubscribed\n")
    report = import_subscribers(db, export, NOW, config)
    assert report.left == 1
    assert [(s.email, s.status) for s in store.iter_subscribers(db)] == [
        ("annlee@gmail.com", "unsubscribed")
    ]


def test_the_mailbox_column_is_filled_for_readers_already_on_the_list(config: Config) -> None:
    db = store.open_store(config.store_path)
    store.insert_subscriber(db, "Ann.Lee@GoogleMail.com", "", [], NOW)
    db.execute("DROP INDEX subscribers_mailbox")
    db.execute("ALTER TABLE subscribers DROP COLUMN mailbox")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm017_subscriber_mailbox'")
    db.conn.commit()
    db.close()
    again = store.open_store(config.store_path)
    assert [r["mailbox"] for r in again.query("SELECT mailbox FROM subscribers")] == [
        "annlee@gmail.com"
    ]


# ---------------------------------------------------------------- encodings


NAMES = ["Zoë “Zee” O’Brien – editor", "Łukasz Żółć", "Søren"]


def _rows(delimiter: str) -> str:
    lines = [delimiter.join(["email", "name"])]
    lines += [delimiter.join([f"r{i}@example.org", n]) for i, n in enumerate(NAMES)]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    ("encoded", "said"),
    [
        (lambda: _rows(",").encode("utf-8"), "UTF-8, comma-separated"),
        (lambda: "\ufeff".encode() + _rows(",").encode("utf-8"), "UTF-8 (byte-order mark)"),
        # Excel's "Unicode text": UTF-16 with its mark, tab-separated.
        (lambda: _rows("\t").encode("utf-16"), "UTF-16 (byte-order mark), tab-separated"),
        (lambda: _rows("\t").encode("utf-16-le"), "UTF-16 (no byte-order mark), tab"),
        (lambda: _rows(";").encode("utf-8"), "UTF-8, semicolon-separated"),
    ],
)
def test_an_export_is_read_in_the_encoding_it_was_written_in_and_says_which(
    config: Config, tmp_path: Path, encoded: Any, said: str
) -> None:
    db = store.open_store(config.store_path)
    path = tmp_path / "list.csv"
    path.write_bytes(encoded())
    report = import_subscribers(db, path, NOW, config)
    assert report.added == 3, report.errors
    assert said in report.read_as["list.csv"]
    assert [s.name for s in store.iter_subscribers(db)] == NAMES


def test_a_windows_1252_export_keeps_its_quotes_and_dashes(config: Config, tmp_path: Path) -> None:
    db = store.open_store(config.store_path)
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "email,name\r\nzoe@example.org,Zoë “Zee” O’Brien – editor\r\n".encode("cp1252")
    )
    report = import_subscribers(db, path, NOW, config)
    assert report.read_as == {"excel.csv": "Windows-1252, comma-separated"}
    assert store.get_subscriber(db, "zoe@example.org").name == NAMES[0]  # type: ignore[union-attr]


def test_a_file_whose_mark_says_utf_16_and_is_not_is_refused(
    config: Config, tmp_path: Path
) -> None:
    db = store.open_store(config.store_path)
    path = tmp_path / "torn.csv"
    path.write_bytes(b"\xff\xfe" + "email\n".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(IngestError, match="starts as UTF-16 but is not"):
        import_subscribers(db, path, NOW, config)


def test_the_command_line_says_how_it_read_the_file(tmp_path: Path) -> None:
    runner = ClockedRunner()
    cfg = tmp_path / "c" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(cfg), "init"]).exit_code == 0
    path = tmp_path / "unicode.txt"
    path.write_bytes(_rows("\t").encode("utf-16"))
    done = runner.invoke(cli, ["--config", str(cfg), "subscribers", "import", str(path)])
    assert done.exit_code == 0, done.output
    assert "Read unicode.txt as UTF-16 (byte-order mark), tab-separated" in done.output


# ---------------------------------------------------------------- exports in a spreadsheet


TRICKY = [
    ("=1+2@example.org", '=HYPERLINK("https://evil.example")'),
    ("-x@example.org", "+Plus"),
    ("+y@example.org", "@home"),
    ("'z@example.org", "'quoted"),
    ("plain@example.org", "O'Brien"),
]


def test_an_export_is_safe_in_a_spreadsheet_and_re_imports_as_the_same_addresses(
    tmp_path: Path,
) -> None:
    first = make_config(tmp_path / "one")
    db = store.open_store(first.store_path)
    for email, name in TRICKY:
        add_subscriber(db, first, email, name, "", NOW)
    out = io.StringIO()
    assert export_subscribers(db, out) == len(TRICKY)
    cells = [c for row in csv.reader(io.StringIO(out.getvalue())) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]  # nothing runs
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue())
    second = make_config(tmp_path / "two")
    other = store.open_store(second.store_path)
    report = import_subscribers(other, path, NOW, second)
    assert report.added == len(TRICKY), report.errors
    assert [(s.email, s.name) for s in store.iter_subscribers(other)] == TRICKY
