"""Readers sign themselves up: the form, double opt-in, the same answer for every state,
rate limits, the honeypot, expiry, and the whole round trip over real sockets."""

import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.readers.signup import purge_pending
from digest.readers.subscribers import save_subscriber
from digest.tokens import sign_confirmation
from digest.web.app import create_app, send_queue_once

from ..conftest import CHROMIUM, NOW, SECRET, make_config, needs_chromium, running
from ..fixtures import load_week

SECTIONS = ["Cybersecurity", "DNS", "Domain Names"]


def _config(tmp_path: Path, **signup: Any) -> Config:
    signup = {"answer_seconds": 0, **signup}  # the floor has a test of its own
    return make_config(tmp_path, signup=signup, digest={"section_order": SECTIONS})


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def site(tmp_path: Path, clock: Clock) -> Iterator[tuple[TestClient, Config]]:
    config = _config(tmp_path)
    store.open_store(config.store_path).close()
    app = create_app(config, clock=clock, send_queue=False)
    with TestClient(app, base_url="https://news.example.com", cookies=None) as client:
        yield client, config


def _sent(config: Config, kind: str = "confirm") -> list[Path]:
    """The emails of ``kind`` sent so far, after one pass over the queue (what the
    server's own task does every few seconds)."""
    send_queue_once(config, lambda: NOW)
    return sorted((config.outbox_path / "notices" / kind).glob("*.eml"))


def _link(eml: Path) -> str:
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https://\S+/(?:confirm|preferences)/\S+", text)
    assert found is not None, text
    return found.group(0)


def _status(config: Config, email: str) -> str | None:
    with store.open_store(config.store_path) as db:
        found = store.get_subscriber(db, email)
        return found.status if found else None


def _post(client: TestClient, email: str, **extra: Any) -> Any:
    return client.post("/digest/subscribe", data={"email": email, **extra})


def test_the_form_offers_the_configured_sections_and_a_hidden_honeypot(site: Any) -> None:
    client, _ = site
    page = client.get("/digest/subscribe")
    assert page.status_code == 200
    assert '<label for="email">Email address</label>' in page.text
    for slug in ("cybersecurity", "dns", "domain-names"):
        assert f'value="{slug}"' in page.text
    assert 'name="website" tabindex="-1"' in page.text and 'aria-hidden="true"' in page.text


def test_a_sign_up_is_pending_until_the_link_is_posted(site: Any, clock: Clock) -> None:
    client, config = site
    answer = _post(client, "New.Reader@Example.ORG", name="Nia", topics=["dns", "bogus"])
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert _status(config, "new.reader@example.org") == "pending"
    [eml] = _sent(config)
    link = _link(eml)
    path = urllib.parse.urlsplit(link).path
    for _ in range(3):  # a mail scanner prefetching the link changes nothing
        page = client.get(path)
        assert page.status_code == 200 and "<button" in page.text
    assert _status(config, "new.reader@example.org") == "pending"
    welcome = client.post(path)
    assert welcome.status_code == 200 and "You are subscribed" in welcome.text
    assert client.post(path).status_code == 200  # twice is harmless
    with store.open_store(config.store_path) as db:
        reader = store.get_subscriber(db, "new.reader@example.org")
        assert reader is not None
        assert (reader.status, reader.name, reader.topics) == ("active", "Nia", ("dns",))
        events = [(e, s) for e, s in store.subscriber_events(db, reader.id)]
    assert events == [("signup", "signup"), ("confirmed", "signup")]
    preferences = re.search(r'href="([^"]+/preferences/[^"]+)"', welcome.text)
    assert preferences is not None
    assert client.get(urllib.parse.urlsplit(preferences.group(1)).path).status_code == 200


def test_expired_altered_and_other_address_links_change_nothing(site: Any, clock: Clock) -> None:
    client, config = site
    _post(client, "late@example.org")
    path = urllib.parse.urlsplit(_link(_sent(config)[0])).path
    token = path.rsplit("/", 1)[1]
    signup_id = int(token.split(".")[0])
    forged = sign_confirmation(
        SECRET, config.list_id, signup_id, "other@example.org", int(NOW.timestamp())
    )
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (altered, forged, "1.short"):
        for method in (client.get, client.post):
            response = method(f"/digest/confirm/{bad}")
            assert response.status_code == 404 and "Sign up again" in response.text
    assert client.post(f"/digest/confirm/{token}%0a").status_code == 404
    clock.now = NOW + timedelta(hours=48, seconds=1)
    expired = client.post(path)
    assert expired.status_code == 410 and "/digest/subscribe" in expired.text
    assert _status(config, "late@example.org") == "pending"


def test_every_state_gets_the_same_answer_and_only_the_right_email(
    site: Any, tmp_path: Path
) -> None:
    client, config = site
    with store.open_store(config.store_path) as db:
        for email, status in (
            ("active@example.org", "active"),
            ("left@example.org", "unsubscribed"),
            ("dead@example.org", "bounced"),
        ):
            save_subscriber(db, email, "", [], NOW)
            if status != "active":
                store.set_subscriber_status(db, email, status, NOW)
    pages = {}
    for email in (
        "new@example.org",
        "new@example.org",
        "active@example.org",
        "left@example.org",
        "dead@example.org",
    ):
        response = _post(client, email)
        assert response.status_code == 200
        pages[email] = response.text.replace(email, "ADDRESS")
    assert len(set(pages.values())) == 1  # nothing tells who is on the list
    assert [p.name for p in _sent(config, "confirm")] == [
        "left@example.org.eml",
        "new@example.org.eml",
    ]
    assert len(list((config.outbox_path / "notices" / "confirm").glob("*"))) == 2
    [already] = _sent(config, "already")
    assert already.name == "active@example.org.eml" and "/preferences/" in _link(already)
    assert _status(config, "left@example.org") == "pending"  # back only by confirming
    assert _status(config, "dead@example.org") == "bounced"
    assert _status(config, "active@example.org") == "active"


def test_pending_and_unconfirmed_readers_never_get_an_edition(site: Any) -> None:
    client, config = site
    with store.open_store(config.store_path) as db:
        load_week(config, db, NOW)
        store.set_subscriber_status(db, "ana.sousa@example.org", "unsubscribed", NOW)
    _post(client, "brand-new@example.org")
    _post(client, "ana.sousa@example.org")  # re-joining: pending until confirmed
    with store.open_store(config.store_path) as db:
        report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    # Emeka follows IPv4 Markets, not one of this site's sections: nothing for him.
    assert report is not None and (report.count("sent"), report.count("skipped")) == (4, 1)
    sent = {p.name for p in (config.outbox_path / "2026-W47").glob("*.eml")}
    assert "brand-new@example.org.eml" not in sent and "ana.sousa@example.org.eml" not in sent


def test_limits_per_address_and_per_client(tmp_path: Path, clock: Clock) -> None:
    config = _config(tmp_path, max_per_address_per_day=2, max_per_ip_per_hour=4)
    store.open_store(config.store_path).close()
    with TestClient(
        create_app(config, clock=clock, send_queue=False), base_url="https://news.example.com"
    ) as c:
        for _ in range(3):
            assert _post(c, "again@example.org").status_code == 200
        assert len(_sent(config)) == 1
        assert _post(c, "fourth@example.org").status_code == 200
        limited = _post(c, "fifth@example.org")
        assert limited.status_code == 429 and "Too many sign-ups" in limited.text
        assert _status(config, "fifth@example.org") is None
        clock.now = NOW + timedelta(hours=1, minutes=1)
        assert _post(c, "fifth@example.org").status_code == 200
    with store.open_store(config.store_path) as db:
        emailed = list(
            db.query("SELECT email, emailed FROM signups WHERE email = 'again@example.org'")
        )
    assert [r["emailed"] for r in emailed] == [1, 1, 0]  # the file per address keeps one


def test_a_spoofed_forwarding_header_counts_only_when_configured(
    tmp_path: Path, clock: Clock
) -> None:
    plain = _config(tmp_path / "a", max_per_ip_per_hour=2)
    store.open_store(plain.store_path).close()
    with TestClient(
        create_app(plain, clock=clock, send_queue=False), base_url="https://news.example.com"
    ) as c:
        for n in range(2):
            _post(c, f"r{n}@example.org", headers=None)
        spoofed = c.post(
            "/digest/subscribe",
            data={"email": "r9@example.org"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert spoofed.status_code == 429  # the header is not trusted: same client
    proxied = _config(tmp_path / "b", max_per_ip_per_hour=2, client_ip_header="X-Forwarded-For")
    store.open_store(proxied.store_path).close()
    with TestClient(
        create_app(proxied, clock=clock, send_queue=False), base_url="https://news.example.com"
    ) as c:
        for n in range(2):
            ok = c.post(
                "/digest/subscribe",
                data={"email": f"p{n}@example.org"},
                headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.1"},
            )
            assert ok.status_code == 200
        other = c.post(
            "/digest/subscribe",
            data={"email": "p9@example.org"},
            headers={"X-Forwarded-For": "203.0.113.2"},
        )
        assert other.status_code == 200  # another client behind the proxy


def test_the_honeypot_and_json_answers(site: Any) -> None:
    client, config = site
    trapped = _post(client, "bot@example.org", website="http://spam.example")
    assert trapped.status_code == 200 and "Check your inbox" in trapped.text
    assert _status(config, "bot@example.org") is None and not _sent(config)
    answer = client.post(
        "/digest/subscribe",
        data={"email": "fetch@example.org"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200 and answer.json()["ok"] is True
    bad = client.post(
        "/digest/subscribe", data={"email": "nope"}, headers={"Accept": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["ok"] is False
    page = _post(client, "nope")
    assert page.status_code == 400
    assert 'aria-invalid="true"' in page.text and 'role="alert"' in page.text
    assert 'value="nope"' in page.text  # what they typed stays in the field


def test_unconfirmed_sign_ups_expire(site: Any, clock: Clock) -> None:
    client, config = site
    with store.open_store(config.store_path) as db:
        save_subscriber(db, "came-back@example.org", "", [], NOW)
        store.set_subscriber_status(db, "came-back@example.org", "unsubscribed", NOW)
    _post(client, "never@example.org")
    _post(client, "came-back@example.org")
    with store.open_store(config.store_path) as db:
        assert purge_pending(db, config, NOW + timedelta(hours=47)) == 0
        assert purge_pending(db, config, NOW + timedelta(hours=49)) == 2
        assert store.get_subscriber(db, "never@example.org") is None
        back = store.get_subscriber(db, "came-back@example.org")
        assert back is not None and back.status == "unsubscribed"
        assert store.subscriber_events(db, back.id)[-1] == ("expired", "signup")


def test_the_round_trip_over_real_sockets(tmp_path: Path, smtp_server: Any) -> None:
    controller, handler = smtp_server
    config = make_config(
        tmp_path,
        smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none"},
        signup={"welcome": True},
        digest={"section_order": SECTIONS},
    )
    store.open_store(config.store_path).close()
    with running(create_app(config)) as port:
        base = f"http://127.0.0.1:{port}"
        form = urllib.parse.urlencode(
            [("email", "reader@example.org"), ("topics", "dns"), ("topics", "cybersecurity")]
        ).encode()
        with urllib.request.urlopen(f"{base}/digest/subscribe", data=form, timeout=10) as r:
            assert r.status == 200
        _wait_for(lambda: handler.received)  # the server's sender took it off the queue
        [confirmation] = handler.received
        assert confirmation.rcpt_tos == ["reader@example.org"]
        msg = message_from_bytes(confirmation.data, policy=policy.default)
        assert msg["Subject"].startswith("Confirm your subscription")
        text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https://\S+/confirm/\S+", text)
        assert link is not None
        path = urllib.parse.urlsplit(link.group(0)).path
        with urllib.request.urlopen(f"{base}{path}", timeout=10) as r:  # GET: a button
            assert b"<button" in r.read()
        assert _status(config, "reader@example.org") == "pending"
        with urllib.request.urlopen(f"{base}{path}", data=b"", timeout=10) as r:  # POST
            assert b"You are subscribed" in r.read()
        _wait_for(lambda: len(handler.received) == 2)  # the welcome
    with store.open_store(config.store_path) as db:
        reader = store.get_subscriber(db, "reader@example.org")
        assert reader is not None
        assert (reader.status, reader.topics) == ("active", ("cybersecurity", "dns"))
    assert [r.rcpt_tos for r in handler.received] == [["reader@example.org"]] * 2  # + welcome
    welcome = message_from_bytes(handler.received[1].data, policy=policy.default)
    assert welcome["Subject"].startswith("Welcome to")


def _wait_for(done: Any, seconds: float = 30) -> None:
    """Until ``done()`` is true; a bound for a slow machine, not a measurement."""
    import time

    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


@needs_chromium
@pytest.mark.slow
def test_the_form_at_375_px_with_the_keyboard(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from ..conftest import CHROMIUM_FLAGS, bound_socket

    sock = bound_socket()  # the app's public URL is where the browser finds it
    port = sock.getsockname()[1]
    config = make_config(
        tmp_path,
        newsletter={"base_url": f"http://127.0.0.1:{port}/digest"},
        signup={"answer_seconds": 0},
        digest={"section_order": SECTIONS},
    )
    store.open_store(config.store_path).close()
    with running(create_app(config), sock), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 375, "height": 740})
        page.goto(f"http://127.0.0.1:{port}/digest/subscribe")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.get_by_label("Email address").focus()
        page.keyboard.type("not an address")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        alert = page.get_by_role("alert")
        assert "does not look right" in alert.inner_text()
        field = page.get_by_label("Email address")
        assert field.get_attribute("aria-invalid") == "true"
        described = field.get_attribute("aria-describedby")
        assert described and page.locator(f"#{described}").inner_text() == alert.inner_text()
        field.fill("")
        field.focus()
        page.keyboard.type("keyboard@example.org")
        page.keyboard.press("Tab")  # to Name
        page.keyboard.type("Kay")
        page.keyboard.press("Tab")  # to the first topic
        page.keyboard.press("Space")
        page.get_by_role("button", name="Subscribe").focus()
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.get_by_role("status").inner_text().startswith("If keyboard@example.org")
        browser.close()
    with store.open_store(config.store_path) as db:
        rows = list(db.query("SELECT name, topics FROM signups"))
    assert rows == [{"name": "Kay", "topics": "cybersecurity"}]


@pytest.mark.slow
def test_sign_ups_wait_for_a_send_holding_the_ledgers_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As each sign-up's store work begins, another connection takes the write lock the
    way a send records an outcome (a write transaction on the ledger) and keeps it a
    moment. A sign-up that reads first and then needs the lock gets no busy wait from
    SQLite ("database is locked", HTTP 500); one that takes the lock as it begins waits
    its turn."""
    import sqlite3
    import threading

    config = _config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)  # a ledger
    db.close()
    ledger = sqlite3.connect(config.store_path, timeout=30, check_same_thread=False)
    held = threading.Lock()  # one hold at a time
    releases: list[threading.Timer] = []
    opened = store.open_store

    def hold_the_ledger() -> None:
        held.acquire()
        ledger.execute("BEGIN IMMEDIATE")  # what record_delivery's write takes
        ledger.execute("UPDATE deliveries SET updated_at = updated_at")

        def release() -> None:
            ledger.commit()
            held.release()

        timer = threading.Timer(0.25, release)
        releases.append(timer)
        timer.start()

    armed = threading.Event()  # set before each sign-up: its first transaction meets the lock

    def open_traced(path: Path, **options: Any) -> Any:
        found = opened(path, **options)

        def trace(statement: str) -> None:
            if statement.startswith("BEGIN") and armed.is_set():
                armed.clear()
                hold_the_ledger()

        found.conn.set_trace_callback(trace)
        return found

    def sign_up(n: int) -> int:
        armed.set()
        return _post(client, f"during.send{n}@example.org").status_code

    # The pages keep their connections (web/stores.py): they are opened traced.
    monkeypatch.setattr(store, "open_store", open_traced)
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    client = TestClient(app, "https://news.example.com", raise_server_exceptions=False)
    with client:
        answers = [sign_up(i) for i in range(8)]
    monkeypatch.setattr(store, "open_store", opened)
    for timer in releases:
        timer.join()
    ledger.close()
    assert len(releases) == 8  # every sign-up met the held lock
    assert answers == [200] * 8  # before each transaction took its lock first: 8 x 500
    with store.open_store(config.store_path) as after:
        pending = [s for s in store.iter_subscribers(after) if s.email.startswith("during.")]
        assert len(pending) == 8 and {s.status for s in pending} == {"pending"}


def test_forty_sign_ups_at_once_with_the_queue_sending_all_answer_200(tmp_path: Path) -> None:
    """Sign-ups race each other and the queue's sender for the write lock: each waits its
    turn (before, about half of them answered 500 "database is locked")."""
    from concurrent.futures import ThreadPoolExecutor

    config = _config(tmp_path, max_per_ip_per_hour=1000)
    store.open_store(config.store_path).close()
    app = create_app(config, clock=lambda: NOW, send_queue=True)
    client = TestClient(app, "https://news.example.com", raise_server_exceptions=False)
    with client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _post(client, f"at.once{i}@example.org"), range(40)))
    assert [a.status_code for a in answers] == [200] * 40
    with store.open_store(config.store_path) as db:
        assert sum(1 for s in store.iter_subscribers(db) if s.email.startswith("at.once")) == 40


@pytest.mark.slow
def test_two_sign_ups_for_one_address_at_the_same_moment_email_it_once(tmp_path: Path) -> None:
    """A second sign-up for the same address lands between the first one's count of
    what was sent and its write: counted under the lock each takes first, the limit
    holds (one email a day here), and a flood of sign-ups cannot mail a victim more."""
    import threading

    from digest.readers.signup import SignupRequest, sign_up

    config = _config(tmp_path, max_per_address_per_day=1, max_per_ip_per_hour=1000)
    victim = SignupRequest("victim@example.org", client="192.0.2.7")
    answers: list[str] = []
    threads: list[threading.Thread] = []

    def the_other() -> None:
        with store.open_store(config.store_path) as db:
            answers.append(sign_up(db, config, victim, NOW).emailed)

    def between(statement: str) -> None:
        if statement.startswith("INSERT INTO signups") and not threads:
            threads.append(threading.Thread(target=the_other))
            threads[0].start()
            threads[0].join(timeout=2)  # it finishes, or it waits for this one's lock

    with store.open_store(config.store_path) as db:
        db.conn.set_trace_callback(between)
        answers.append(sign_up(db, config, victim, NOW).emailed)
    threads[0].join()
    assert sorted(answers) == ["", "confirm"]  # before: ["confirm", "confirm"]
    with store.open_store(config.store_path) as db:
        queued = db.execute("SELECT count(*) FROM outgoing WHERE recipient = ?", [victim.email])
        assert queued.fetchone()[0] == 1
