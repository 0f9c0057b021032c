"""The subscriber's pages: RFC 8058 one-click, confirm page, preferences, bad requests."""

import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.models import Article
from digest.readers.subscribers import save_subscriber
from digest.tokens import sign_token
from digest.web.app import create_app

from ..conftest import NOW, SECRET, make_config
from ..fixtures import load_week

ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def seeded(config: Config) -> Config:
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    db.close()
    return config


@pytest.fixture
def client(seeded: Config) -> Iterator[TestClient]:
    with TestClient(
        create_app(seeded, clock=lambda: NOW, send_queue=False),
        base_url="https://news.example.com",
        cookies=None,
    ) as c:
        yield c


def _status(config: Config, email: str) -> str:
    db = store.open_store(config.store_path)
    try:
        found = store.get_subscriber(db, email)
        assert found is not None
        return found.status
    finally:
        db.close()


def _url(config: Config, subscriber_id: int, kind: str = "unsubscribe") -> str:
    return f"/digest/{kind}/{sign_token(SECRET, config.list_id, subscriber_id)}"


def test_one_click_post_exactly_as_gmail_sends_it(client: TestClient, seeded: Config) -> None:
    url = _url(seeded, 1)
    response = client.post(url, content=ONE_CLICK, headers={**FORM, "Content-Length": "26"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert _status(seeded, "ana.sousa@example.org") == "unsubscribed"
    again = client.post(url, content=ONE_CLICK, headers=FORM)  # idempotent
    assert again.status_code == 200
    db = store.open_store(seeded.store_path)
    assert store.subscriber_events(db, 1) == [("unsubscribed", "one-click")]


def test_one_click_post_as_multipart_per_rfc_8058(client: TestClient, seeded: Config) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n--XyZ--\r\n"
    )
    response = client.post(
        _url(seeded, 2), content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    assert response.status_code == 200
    assert _status(seeded, "ben.hughes@example.org") == "unsubscribed"


def test_get_shows_a_confirm_page_and_changes_nothing(client: TestClient, seeded: Config) -> None:
    response = client.get(_url(seeded, 1))
    assert response.status_code == 200
    assert "a…a@example.org" in response.text and "ana.sousa" not in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert response.headers["referrer-policy"] == "same-origin"  # never to another site
    assert _status(seeded, "ana.sousa@example.org") == "active"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-3],  # truncated
        lambda t: "2" + t[1:],  # another subscriber's id with this one's signature
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # altered signature
        lambda t: sign_token("wrong-secret", "the-weekly-wrap.news.example.com", 1),  # forged
        lambda t: sign_token(SECRET, "other-list.example.com", 1),  # another list
        lambda t: sign_token(SECRET, "the-weekly-wrap.news.example.com", 999),  # no one
        lambda t: "1.%00",
    ],
)
def test_bad_tokens_get_404_and_change_nothing(
    client: TestClient, seeded: Config, mangle: Any
) -> None:
    token = mangle(sign_token(SECRET, seeded.list_id, 1))
    for method in ("get", "post"):
        response = getattr(client, method)(
            f"/digest/unsubscribe/{token}",
            **({"content": ONE_CLICK, "headers": FORM} if method == "post" else {}),
        )
        assert response.status_code == 404
        assert "This link is not valid" in response.text
    db = store.open_store(seeded.store_path)
    assert [s.status for s in store.iter_subscribers(db)] == ["active"] * 6


def test_bad_requests_change_nothing(client: TestClient, seeded: Config) -> None:
    url = _url(seeded, 1)
    assert client.post(url, content="x" * 100_000, headers=FORM).status_code == 413
    assert (
        client.post(
            url, content='{"a": 1}', headers={"Content-Type": "application/json"}
        ).status_code
        == 415
    )
    assert client.post(url, content=ONE_CLICK).status_code == 415  # no content type
    assert client.post(url, content="List-Unsubscribe=Yes", headers=FORM).status_code == 400
    assert client.post(url, content=b"\xff\xfe=\x00", headers=FORM).status_code == 400
    assert (
        client.post(
            url,
            content=b"--b\r\nbroken",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        ).status_code
        == 400
    )
    assert client.get("/nope").status_code == 404
    assert client.put(url).status_code == 405
    assert _status(seeded, "ana.sousa@example.org") == "active"


def test_routes_answer_without_the_prefix_too(client: TestClient, seeded: Config) -> None:
    token = sign_token(SECRET, seeded.list_id, 1)
    assert client.get(f"/unsubscribe/{token}").status_code == 200


def test_preferences_choose_topics_unsubscribe_and_resubscribe(
    client: TestClient, seeded: Config
) -> None:
    url = _url(seeded, 3, "preferences")
    with store.open_store(seeded.store_path) as db:  # a feed's raw category is no topic
        store.upsert_article(
            db,
            Article(0, "https://news.example.com/fish", "Fish", NOW, topics=("Fishing",)),
            NOW,
        )
    page = client.get(url)
    assert page.status_code == 200 and 'value="dns" checked' in page.text
    assert 'value="new-tlds"' in page.text and "fishing" not in page.text.lower()
    saved = client.post(url, content="action=save&topics=new-tlds&topics=bogus", headers=FORM)
    assert "Your topics are saved." in saved.text
    db = store.open_store(seeded.store_path)
    assert store.get_subscriber_by_id(db, 3).topics == ("new-tlds",)  # type: ignore[union-attr]
    client.post(url, content="action=unsubscribe", headers=FORM)
    assert _status(seeded, "chen.wei@example.com") == "unsubscribed"
    back = client.post(url, content="action=resubscribe&topics=dns", headers=FORM)
    assert "subscribed again" in back.text
    assert _status(seeded, "chen.wei@example.com") == "active"
    assert client.post(url, content="action=explode", headers=FORM).status_code == 400


def test_real_uvicorn_serves_one_click(seeded: Config) -> None:
    from ..conftest import running

    with running(create_app(seeded, send_queue=False)) as port:
        token = sign_token(SECRET, seeded.list_id, 5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/digest/unsubscribe/{token}",
            data=ONE_CLICK.encode(),
            headers=FORM,
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        assert _status(seeded, "emeka.obi@example.org") == "unsubscribed"


def test_pages_escape_what_they_show(tmp_path: Path) -> None:
    from ..conftest import make_config

    config = make_config(tmp_path, newsletter={"name": "<b>Wrap</b> & Co"})
    db = store.open_store(config.store_path)
    save_subscriber(db, "x@example.org", "", [], NOW)
    with TestClient(create_app(config, send_queue=False), base_url="https://news.example.com") as c:
        page = c.get(f"/digest/unsubscribe/{sign_token(SECRET, config.list_id, 1)}")
    assert "&lt;b&gt;Wrap&lt;/b&gt; &amp; Co" in page.text


def test_an_old_link_after_a_forget_is_a_404_and_never_reaches_the_next_subscriber(
    client: TestClient, seeded: Config
) -> None:
    db = store.open_store(seeded.store_path)
    last = max(s.id for s in store.iter_subscribers(db))
    email = store.get_subscriber_by_id(db, last).email  # type: ignore[union-attr]
    store.delete_subscriber(db, email)
    newcomer = store.insert_subscriber(db, "newcomer@example.org", "", [], NOW)
    db.close()
    assert newcomer != last
    old = _url(seeded, last)
    assert client.get(old).status_code == 404
    response = client.post(old, content=ONE_CLICK, headers=FORM)
    assert response.status_code == 404
    assert _status(seeded, "newcomer@example.org") == "active"


@pytest.mark.parametrize(
    "part",
    [
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nOne-Click",
        b"Content-Type: message/rfc822\r\n\r\nSubject: hi\r\n\r\nOne-Click",
        b"Content-Type: multipart/mixed; boundary=Y\r\n\r\n--Y\r\n\r\nOne-Click\r\n--Y--",
    ],
    ids=["unknown-charset", "message-rfc822", "nested-multipart"],
)
def test_malformed_multipart_parts_are_a_400_and_change_nothing(
    client: TestClient, seeded: Config, part: bytes
) -> None:
    body = (
        b'--X\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n'
        + part
        + b"\r\n--X--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=X"}
    response = client.post(_url(seeded, 1), content=body, headers=headers)
    assert response.status_code == 400
    assert _status(seeded, "ana.sousa@example.org") == "active"


def test_a_token_with_a_trailing_newline_is_not_a_token(client: TestClient, seeded: Config) -> None:
    from digest.tokens import verify_token

    token = sign_token(SECRET, seeded.list_id, 1)
    assert verify_token(SECRET, seeded.list_id, token) == 1
    assert verify_token(SECRET, seeded.list_id, token + "\n") is None
    assert client.get(_url(seeded, 1)).status_code == 200
    assert client.get(_url(seeded, 1) + "%0a").status_code == 404
    response = client.post(_url(seeded, 1) + "%0A", content=ONE_CLICK, headers=FORM)
    assert response.status_code == 404
    assert _status(seeded, "ana.sousa@example.org") == "active"


def test_subscriber_pages_cannot_be_framed(client: TestClient, seeded: Config) -> None:
    for url in (_url(seeded, 1), _url(seeded, 1, "preferences"), "/digest/unsubscribe/nope"):
        response = client.get(url)
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert response.headers["x-frame-options"] == "DENY"


def test_the_event_loop_answers_while_a_send_holds_the_store(tmp_path: Path) -> None:
    """A send's biggest transaction (the freeze) holds SQLite's write lock; a one-click
    unsubscribe waits for it in the thread pool, and meanwhile the server answers other
    readers. Shown by order, not by a clock: the other answers arrive while the lock is
    still held, the unsubscribe right after it is released."""
    import sqlite3
    import urllib.request

    from ..conftest import running

    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    reader = store.get_subscriber(db, "ana.sousa@example.org")
    assert reader is not None
    token = sign_token(SECRET, config.list_id, reader.id)
    db.close()
    app = create_app(config, clock=lambda: NOW, send_queue=False)
    with running(app) as port:
        base = f"http://127.0.0.1:{port}/digest"
        sender = sqlite3.connect(config.store_path, timeout=1)
        sender.execute("BEGIN IMMEDIATE")  # the freeze's transaction, still open
        answered: dict[str, Any] = {}

        def one_click() -> None:
            request = urllib.request.Request(
                f"{base}/unsubscribe/{token}", data=b"List-Unsubscribe=One-Click"
            )
            with urllib.request.urlopen(request, timeout=60) as r:
                answered["unsubscribe"] = (r.status, "lock released" in answered)

        clicking = threading.Thread(target=one_click)
        clicking.start()
        for _ in range(5):  # other readers, served while the unsubscribe waits
            with urllib.request.urlopen(f"{base}/healthz", timeout=60) as r:
                assert r.read() == b"ok"
            with urllib.request.urlopen(f"{base}/unsubscribe/{token}", timeout=60) as r:
                assert r.status == 200  # a page that only reads: WAL lets it through
        assert "unsubscribe" not in answered  # still waiting for the write lock
        answered["lock released"] = True
        sender.rollback()
        sender.close()
        clicking.join(timeout=60)
    assert answered["unsubscribe"] == (200, True)
    with store.open_store(config.store_path) as db:
        assert store.subscriber_status(db, reader.id) == "unsubscribed"


def test_topics_in_any_script_are_their_own_sections_choices_and_keys(tmp_path: Path) -> None:
    from digest.content.copies import choose_copy
    from digest.content.edition import build_edition
    from digest.content.weeks import week_window

    sections = ["سياسة", "اقتصاد", "رياضة", "経済", "Политика"]
    config = make_config(
        tmp_path, newsletter={"language": "ar"}, digest={"section_order": sections}
    )
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    for i, topic in enumerate(sections * 2):
        url = f"https://news.example.com/{i}"
        when = week.start + timedelta(hours=10 + i)
        store.upsert_article(db, Article(0, url, f"خبر {i}", when, topics=(topic,)), NOW)
    assert len({row[0] for row in store.all_topics(db)}) == len(sections)
    edition = build_edition(config, db, week)
    assert edition is not None
    assert [s.topic for s in edition.sections] == sections  # no "More": each its own
    save_subscriber(db, "reader@example.org", "", ["اقتصاد"], NOW)
    reader = store.get_subscriber(db, "reader@example.org")
    assert reader is not None and reader.topics == ("اقتصاد",)
    copy = choose_copy(config, edition, ",".join(reader.topics))
    assert {a.topics[0] for a in copy.articles} == {"اقتصاد"}  # not the whole week
    db.close()
    with TestClient(
        create_app(config, clock=lambda: NOW, send_queue=False),
        base_url="https://news.example.com",
    ) as client:
        form = client.get("/digest/subscribe")
        assert all(f'value="{s.lower()}"' in form.text for s in sections)
        url = _url(config, reader.id, "preferences")
        saved = client.post(url, data={"action": "save", "topics": ["経済", "политика"]})
        assert saved.status_code == 200
    db = store.open_store(config.store_path)
    assert store.get_subscriber(db, "reader@example.org").topics == ("политика", "経済")  # type: ignore[union-attr]
