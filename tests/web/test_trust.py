"""Sign-up, links and the web side never hand one reader's subscription to anyone else:
each attack of the issue beside the real use it must not break."""

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.addresses import mailbox_key
from digest.config import DEVELOPMENT_SECRET, Config
from digest.errors import ConfigError
from digest.readers.signup import client_bucket
from digest.readers.subscribers import save_subscriber
from digest.tokens import sign_token
from digest.web.app import create_app, send_queue_once
from digest.web.preview import create_preview_app

from ..conftest import NOW, SECRET, make_config, running

BASE = "https://news.example.com"


def _config(tmp_path: Path, **sections: Any) -> Config:
    signup = {"answer_seconds": 0, **sections.pop("signup", {})}
    return make_config(tmp_path, signup=signup, **sections)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Config]]:
    config = _config(tmp_path)
    store.open_store(config.store_path).close()
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with TestClient(app, base_url=BASE, cookies=None) as client:
        yield client, config


def _sent(config: Config, kind: str = "confirm") -> list[Path]:
    send_queue_once(config, lambda: NOW)
    return sorted((config.outbox_path / "notices" / kind).glob("*.eml"))


def _status(config: Config, email: str) -> str | None:
    with store.open_store(config.store_path) as db:
        found = store.get_subscriber(db, email)
        return found.status if found else None


def _reader(config: Config, email: str, status: str = "active", event: str = "") -> int:
    with store.open_store(config.store_path) as db:
        save_subscriber(db, email, "", [], NOW)
        reader = store.get_subscriber(db, email)
        assert reader is not None
        if status != "active":
            store.change_subscriber(db, reader.id, NOW, "test", status=status, event=event)
        return reader.id


# ---------------------------------------------------------------- the request path


def test_a_sign_up_never_waits_for_the_relay(tmp_path: Path, smtp_server: Any) -> None:
    """The confirmation is queued, not sent, while the reader waits: the relay has seen
    nothing when the answer comes, and gets it on the next pass over the queue."""
    controller, handler = smtp_server
    config = _config(tmp_path, smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none"})
    store.open_store(config.store_path).close()
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with TestClient(app, base_url=BASE) as client:
        answer = client.post("/digest/subscribe", data={"email": "new@example.org"})
        assert answer.status_code == 200 and handler.received == []
    with store.open_store(config.store_path) as db:
        assert store.outgoing_counts(db) == {"waiting": 1}
    send_queue_once(config, lambda: NOW)
    assert [r.rcpt_tos for r in handler.received] == [["new@example.org"]]
    with store.open_store(config.store_path) as db:
        assert store.outgoing_counts(db) == {"sent": 1}


def test_every_state_gets_the_same_answer_after_the_same_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New, pending, active, unsubscribed, bounced and complained addresses all get the
    same page, and each answer waits out `answer_seconds` from its arrival (the sleep is
    recorded, not timed)."""
    import digest.web.signup_pages as pages

    config = _config(tmp_path, signup={"answer_seconds": 0.25})
    store.open_store(config.store_path).close()
    for email, status, event in [
        ("active@example.org", "active", ""),
        ("left@example.org", "unsubscribed", ""),
        ("gone@example.org", "bounced", ""),
        ("angry@example.org", "unsubscribed", "complaint"),
    ]:
        _reader(config, email, status, event)
    slept: list[float] = []

    async def recorded(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(pages.asyncio, "sleep", recorded)
    bodies = []
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with TestClient(app, base_url=BASE) as client:
        for email in (
            "new@example.org",
            "active@example.org",
            "left@example.org",
            "gone@example.org",
            "angry@example.org",
        ):
            answer = client.post("/digest/subscribe", data={"email": email})
            assert answer.status_code == 200
            bodies.append(answer.text.replace(email, "EMAIL"))
    assert len(set(bodies)) == 1
    assert len(slept) == 5 and all(0 < s <= 0.25 for s in slept)  # the rest of the floor


# ---------------------------------------------------------------- limits


def test_limits_fold_what_one_person_controls(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        signup={
            "client_ip_header": "X-Forwarded-For",
            "max_per_ip_per_hour": 20,
            "max_per_address_per_day": 3,
        },
    )
    store.open_store(config.store_path).close()
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    codes = []
    with TestClient(app, base_url=BASE) as client:
        for n in range(100):  # one /64, one mailbox, a hundred spellings
            codes.append(
                client.post(
                    "/digest/subscribe",
                    data={"email": f"Target+{n}@example.org"},
                    headers={"X-Forwarded-For": f"2001:db8:1:2::{n:x}"},
                ).status_code
            )
    assert codes.count(200) == 20 and codes.count(429) == 80
    assert len(_sent(config)) == 3  # the mailbox got three confirmation emails, not 20
    assert client_bucket("2001:db8:1:2::1") == client_bucket("2001:db8:1:2:ffff::9")
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("::ffff:203.0.113.7") == "203.0.113.7"
    assert mailbox_key("A.B+news@Gmail.com") == mailbox_key("ab@gmail.com") == "ab@gmail.com"
    assert mailbox_key("a.b+x@example.org") == "a.b@example.org"  # dots count elsewhere


def test_field_limits_are_the_servers(site: Any) -> None:
    client, config = site
    long_name = client.post(
        "/digest/subscribe", data={"email": "a@example.org", "name": "N" * 1000}
    )
    assert long_name.status_code == 400 and "at most 200 characters" in long_name.text
    long_address = "x" * 250 + "@example.org"
    refused = client.post("/digest/subscribe", data={"email": long_address})
    assert refused.status_code == 400 and "at most 254 characters" in refused.text
    assert _status(config, "a@example.org") is None
    ok = client.post("/digest/subscribe", data={"email": "b@example.org", "name": "N" * 200})
    assert ok.status_code == 200


def test_no_header_past_998_octets_reaches_a_relay(config: Config) -> None:
    from digest.errors import HeaderError
    from digest.mail.message import build_message, prepare_variant
    from digest.models import RenderedVariant, Subscriber

    prepared = prepare_variant(
        config, RenderedVariant("", "S", "<p>x</p>", "x", 1), "2026-W47", NOW
    )
    for name in ("Ann " * 50, "é" * 200, "名前" * 100):
        raw = build_message(config, prepared, Subscriber(3, "ann@example.org", name))
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert max(len(line) for line in head.split(b"\r\n")) <= 998
    with pytest.raises(HeaderError, match="998 octets"):  # a name stored by an older version
        build_message(config, prepared, Subscriber(3, "ann@example.org", "A" * 1000))


# ---------------------------------------------------------------- links and origins


def _confirm_path(config: Config) -> str:
    text = _sent(config)[-1].read_text()
    found = re.search(r"https://\S+/confirm/[\w.-]+", text)
    assert found is not None
    return urllib.parse.urlsplit(found.group(0)).path


def test_a_confirmation_link_is_spent_by_use_and_by_any_later_change(site: Any) -> None:
    client, config = site
    client.post("/digest/subscribe", data={"email": "reader@example.org"})
    older = _confirm_path(config)
    client.post("/digest/subscribe", data={"email": "reader@example.org"})
    newer = _confirm_path(config)
    assert older != newer
    assert client.post(newer).status_code == 200
    assert _status(config, "reader@example.org") == "active"
    with store.open_store(config.store_path) as db:  # then the reader leaves
        reader = store.get_subscriber(db, "reader@example.org")
        assert reader is not None
        store.change_subscriber(
            db, reader.id, NOW + timedelta(minutes=5), "one-click", status="unsubscribed"
        )
    used = client.post(older)  # the older, never-used link
    assert used.status_code == 410 and "already used" in used.text
    again = client.post(newer)  # the used one says so, and changes nothing
    assert again.status_code == 200
    assert _status(config, "reader@example.org") == "unsubscribed"


def test_state_changing_posts_from_another_site_are_refused(site: Any) -> None:
    client, config = site
    client.post("/digest/subscribe", data={"email": "reader@example.org"})
    path = _confirm_path(config)
    evil = {"Origin": "https://evil.example"}
    assert client.post(path, headers=evil).status_code == 403
    assert client.post(path, headers={"Referer": "https://evil.example/x"}).status_code == 403
    assert (
        client.post("/digest/subscribe", data={"email": "x@example.org"}, headers=evil).status_code
        == 403
    )
    assert _status(config, "reader@example.org") == "pending"
    assert client.post(path, headers={"Origin": BASE}).status_code == 200  # the site itself
    # The one-click unsubscribe comes from mailbox providers: no Origin check.
    reader_id = _reader(config, "other@example.org")
    token = sign_token(SECRET, config.list_id, reader_id)
    one_click = client.post(
        f"/digest/unsubscribe/{token}",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Origin": "https://mail.provider.example"},
    )
    assert one_click.status_code == 200 and _status(config, "other@example.org") == "unsubscribed"


def test_a_configured_other_page_may_post_the_form(tmp_path: Path) -> None:
    config = _config(tmp_path, web={"origins": ["https://www.example.com"]})
    store.open_store(config.store_path).close()
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with TestClient(app, base_url=BASE) as client:
        answer = client.post(
            "/digest/subscribe",
            json={"email": "from-the-site@example.org", "topics": []},
            headers={"Origin": "https://www.example.com", "Accept": "application/json"},
        )
        assert answer.status_code == 200 and answer.json()["ok"] is True


# ---------------------------------------------------------------- coming back


def test_bounced_or_complained_readers_come_back_only_by_a_fresh_opt_in(site: Any) -> None:
    client, config = site
    gone = _reader(config, "gone@example.org", "bounced")
    angry = _reader(config, "angry@example.org", "unsubscribed", "complaint")
    # Nobody can make digest mail them from the public form:
    for email in ("gone@example.org", "angry@example.org"):
        assert client.post("/digest/subscribe", data={"email": email}).status_code == 200
    assert _sent(config) == [] and _status(config, "angry@example.org") == "unsubscribed"
    # An old preferences link does not resubscribe them: it asks them to confirm.
    for reader_id, email in ((gone, "gone@example.org"), (angry, "angry@example.org")):
        token = sign_token(SECRET, config.list_id, reader_id)
        page = client.post(f"/digest/preferences/{token}", data={"action": "resubscribe"})
        assert page.status_code == 200 and "confirmation link" in page.text
        assert _status(config, email) != "active"
    links = _sent(config)
    assert len(links) == 2
    path = urllib.parse.urlsplit(
        re.search(r"https://\S+/confirm/[\w.-]+", links[0].read_text()).group(0)
    ).path  # type: ignore[union-attr]
    assert client.post(path).status_code == 200  # the reader's own confirmation
    assert "active" in {_status(config, "angry@example.org"), _status(config, "gone@example.org")}


# ---------------------------------------------------------------- secrets, paths, hosts


def test_the_development_key_never_signs_for_real_readers(tmp_path: Path) -> None:
    from digest.content.weeks import week_window
    from digest.delivery.sending import send_edition
    from digest.returns.process import process_return_path

    env = {"DIGEST_SECRET": DEVELOPMENT_SECRET}
    over_smtp = make_config(tmp_path / "a", env=env, smtp={"host": "127.0.0.1", "port": 2525})
    db = store.open_store(over_smtp.store_path)
    with pytest.raises(ConfigError, match=r"published development key.*token_urlsafe"):
        send_edition(over_smtp, db, week_window("2026-W47", over_smtp.tz), lambda: NOW)
    served = make_config(tmp_path / "b", env=env)
    with pytest.raises(ConfigError, match="published development key"):
        create_app(served)
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    with pytest.raises(ConfigError, match="published development key"):
        process_return_path(db, served, NOW, maildir=box)


@pytest.mark.parametrize(
    ("archive", "refused"),
    [
        ("data", True),  # the store's own folder: /archive/digest.db
        (".", True),  # a folder above it
        ("data/outbox", True),  # every reader's copy, tokens and all
        ("data/outbox/..", True),
        ("data/archive", False),  # a folder of its own beside them
        ("public", False),
    ],
)
def test_the_archive_may_not_hold_the_store_or_the_outbox(
    tmp_path: Path, archive: str, refused: bool
) -> None:
    sections = {
        "store": {"path": "data/digest.db"},
        "outbox": {"path": "data/outbox"},
        "archive": {"path": archive},
    }
    if refused:
        with pytest.raises(ConfigError, match="publishes that folder"):
            make_config(tmp_path, **sections)
    else:
        assert make_config(tmp_path, **sections).archive_path.name == Path(archive).name


def test_archive_responses_carry_the_security_headers(site: Any) -> None:
    client, config = site
    config.archive_path.mkdir(parents=True, exist_ok=True)
    (config.archive_path / "index.html").write_text("<p>editions</p>")
    page = client.get("/digest/archive/")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_only_configured_hosts_are_answered(site: Any, tmp_path: Path) -> None:
    client, config = site
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/healthz", headers={"Host": "news.example.com"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost:8080"}).status_code == 200
    desk = TestClient(
        create_preview_app(config, clock=lambda: NOW), base_url="http://127.0.0.1:8025"
    )
    with desk:
        assert desk.get("/version").status_code == 200
        rebound = desk.get("/version", headers={"Host": "attacker.example:8025"})
        assert rebound.status_code == 400


# ---------------------------------------------------------------- behind a proxy


@pytest.mark.parametrize("prefix", ["/digest", ""], ids=["keeps-the-path", "strips-it"])
def test_forms_post_to_the_public_url_behind_any_proxy(site: Any, prefix: str) -> None:
    client, config = site
    reader_id = _reader(config, "reader@example.org")
    token = sign_token(SECRET, config.list_id, reader_id)
    for page in (
        f"{prefix}/unsubscribe/{token}",
        f"{prefix}/preferences/{token}",
        f"{prefix}/subscribe",
    ):
        html = client.get(page).text
        (action,) = re.findall(r'<form method="post" action="([^"]+)"', html)
        assert action.startswith("https://news.example.com/digest/"), (page, action)


def test_a_real_server_behind_a_stripping_proxy(tmp_path: Path) -> None:
    """uvicorn on a socket, reached at the root as a proxy that strips /digest would:
    the confirmation link and the form post still work, and answer JSON to JSON."""
    config = _config(tmp_path)
    store.open_store(config.store_path).close()
    with running(create_app(config, clock=lambda: NOW, send_queue=False)) as port:
        root = f"http://127.0.0.1:{port}"
        request = urllib.request.Request(
            f"{root}/subscribe",
            data=json.dumps({"email": "json@example.org", "name": "Jay"}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert json.loads(r.read())["ok"] is True
        bad = urllib.request.Request(
            f"{root}/subscribe", data=b"{not json", headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["ok"] is False
        plain = urllib.request.Request(
            f"{root}/subscribe",
            data=b"email=x",
            headers={"Content-Type": "text/plain", "Accept": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as wrong_type:
            urllib.request.urlopen(plain, timeout=10)
        assert (
            wrong_type.value.code == 415 and "JSON" in json.loads(wrong_type.value.read())["error"]
        )
        path = urllib.parse.urlsplit(
            re.search(r"https://\S+/confirm/[\w.-]+", _sent(config)[0].read_text()).group(0)  # type: ignore[union-attr]
        ).path.removeprefix("/digest")
        with urllib.request.urlopen(
            urllib.request.Request(f"{root}{path}", data=b""), timeout=10
        ) as r:
            assert b"You are subscribed" in r.read()
    assert _status(config, "json@example.org") == "active"
