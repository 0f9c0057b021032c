"""The desk's guards, proven on its router: every POST refuses no session, a foreign
Origin, a missing token and a role without its permission; every route declares its
permission; a viewer never sees a reader's address; an approve of an edition changed
since it was looked at is refused; the cookie, Host and CSP rules hold."""

import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.staff import accounts
from digest.staff.accounts import ROLES, allows
from digest.staff.acts import set_note
from digest.staff.audit import Actor, entries
from digest.store import staff as rows
from digest.web import desk
from digest.web.desk import PUBLIC, SIGNED_IN, create_desk_app

from ..conftest import NOW, make_config
from ..fixtures import load_week

BASE = "https://desk.example.com"
PASSWORD = "correct horse battery staple"
OPERATOR = Actor("cli:test", "operator")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = make_config(tmp_path, desk={"base_url": BASE})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    db.close()
    return config


@pytest.fixture
def client(config: Config) -> Iterator[TestClient]:
    with TestClient(create_desk_app(config, clock=lambda: NOW), base_url=BASE) as c:
        yield c


def _account(config: Config, role: str) -> tuple[str, str]:
    """A signed-in account of ``role``: (cookie token, CSRF token)."""
    email = f"{role}@staff.example.com"
    with store.open_store(config.store_path) as db:
        if rows.get_staff(db, email) is None:
            accounts.add_staff(config, db, OPERATOR, email, role, PASSWORD, NOW)
        return accounts.open_session(db, email, NOW)


def _as(client: TestClient, config: Config, role: str) -> str:
    token, csrf = _account(config, role)
    client.cookies.clear()
    client.cookies.set("__Host-desk", token, domain="desk.example.com")
    return csrf


def _path(route: desk.DeskRoute) -> str:
    return route.path.replace("{token}", "not-a-token")


POSTS = [r for r in desk.ROUTES if "POST" in r.methods]
GUARDED = [r for r in POSTS if r.permission != PUBLIC]


def test_every_route_declares_a_known_permission_and_the_app_has_no_other() -> None:
    known = set().union(*ROLES.values()) | {PUBLIC, SIGNED_IN}
    assert {r.permission for r in desk.ROUTES} <= known
    assert {r.path for r in desk.ROUTES if r.permission == PUBLIC} == {
        "/login",
        "/login/passkey-options",
        "/login/passkey",
        "/set-password/{token}",
    }
    app = create_desk_app(make_config(Path("/nonexistent")))
    served = {(r.path, m) for r in app.routes if isinstance(r, Route) for m in r.methods or ()}
    declared = {(r.path, m) for r in desk.ROUTES for m in r.methods} | {
        (r.path, "HEAD") for r in desk.ROUTES if "GET" in r.methods
    }
    assert served == declared
    assert len(GUARDED) >= 10


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.path)
@pytest.mark.slow
def test_every_post_refuses_no_session_a_foreign_origin_no_token_and_a_role_without_it(
    client: TestClient, config: Config, route: desk.DeskRoute
) -> None:
    path = _path(route)
    client.cookies.clear()
    assert client.post(path, data={"csrf_token": "x"}, headers={"Origin": BASE}).status_code == 401
    role = "admin"
    csrf = _as(client, config, role)
    form = {"csrf_token": csrf}
    foreign = client.post(path, data=form, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert client.post(path, data=form).status_code == 403  # no Origin at all
    assert client.post(path, data={}, headers={"Origin": BASE}).status_code == 403
    assert (
        client.post(path, data={"csrf_token": "forged"}, headers={"Origin": BASE}).status_code
        == 403
    )
    lacking = [r for r in ROLES if not allows(r, route.permission)]
    if route.permission == SIGNED_IN:
        lacking = []
    for role in lacking:
        csrf = _as(client, config, role)
        refused = client.post(path, data={"csrf_token": csrf}, headers={"Origin": BASE})
        assert refused.status_code == 403, (role, path)
        assert route.permission in refused.text
    with store.open_store(config.store_path) as db:
        refusals = [r for r in entries(db) if r["outcome"] == "refused"]
    assert len(refusals) == 4 + len(lacking)  # each refusal with a session is logged
    assert all(r["target"] == path for r in refusals)


def test_the_token_may_come_as_a_header_and_a_granted_post_goes_through(
    client: TestClient, config: Config
) -> None:
    csrf = _as(client, config, "editor")
    done = client.post(
        "/note",
        data={"note": "From the *desk*."},
        headers={"Origin": BASE, "X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "note+saved" in done.headers["location"]
    with store.open_store(config.store_path) as db:
        last = entries(db)[-1]
    assert (last["action"], last["actor"], last["role"]) == (
        "note.set",
        "editor@staff.example.com",
        "editor",
    )


@pytest.mark.parametrize(
    "route",
    [r for r in desk.ROUTES if r.permission != PUBLIC and "GET" in r.methods],
    ids=lambda r: r.path,
)
def test_every_page_sends_a_stranger_to_log_in(client: TestClient, route: desk.DeskRoute) -> None:
    got = client.get(route.path, follow_redirects=False)
    assert got.status_code == 303 and got.headers["location"].startswith("/login")


@pytest.mark.slow
def test_a_viewers_pages_never_hold_a_readers_address(client: TestClient, config: Config) -> None:
    with store.open_store(config.store_path) as db:
        addresses = [s.email for s in store.iter_subscribers(db)]
        bounced = store.get_subscriber(db, addresses[0])
        assert bounced is not None
        store.add_event(db, bounced.id, "bounced", "dsn", NOW, detail="5.1.1 user unknown")
    assert addresses
    _as(client, config, "admin")
    for email in addresses[:2]:  # an admin's lookups put readers in the audit log
        assert email in client.get("/readers", params={"email": email}).text
    _as(client, config, "viewer")
    seen = 0
    for route in desk.ROUTES:
        if "GET" not in route.methods or "{" in route.path or route.permission == PUBLIC:
            continue
        page = client.get(route.path)
        if route.permission == SIGNED_IN or allows("viewer", route.permission):
            assert page.status_code == 200, route.path
            seen += 1
        else:
            assert page.status_code == 403, route.path
        for email in addresses:
            assert email not in page.text, (route.path, email)
    assert seen >= 5
    assert "***@" in client.get("/audit").text
    assert "5.1.1 user unknown" in client.get("/returns").text
    _as(client, config, "admin")
    assert addresses[0] in client.get("/returns").text  # an admin sees whom


def test_an_approve_of_an_edition_changed_since_it_was_shown_is_refused(
    client: TestClient, config: Config
) -> None:
    with store.open_store(config.store_path) as db:
        store.request_approval(db, "2026-W47", NOW)
    csrf = _as(client, config, "publisher")
    page = client.get("/edition", params={"week": "2026-W47"}).text
    shown = re.search(r'name="digest" value="([0-9a-f]{64})"', page)
    assert shown
    with store.open_store(config.store_path) as db:  # an editor changes it meanwhile
        set_note(config, db, OPERATOR, "2026-W47", NOW, text="A late change.")
    form = {"csrf_token": csrf, "week": "2026-W47", "digest": shown.group(1)}
    refused = client.post("/approve", data=form, headers={"Origin": BASE}, follow_redirects=False)
    assert refused.status_code == 303 and "changed+after+you+looked" in refused.headers["location"]
    with store.open_store(config.store_path) as db:
        assert store.approval(db, "2026-W47")[1] is None  # type: ignore[index]
        last = entries(db)[-1]
        assert (last["action"], last["outcome"]) == ("edition.approve", "refused")
    again = client.get("/edition", params={"week": "2026-W47"}).text
    current = re.search(r'name="digest" value="([0-9a-f]{64})"', again)
    assert current and current.group(1) != shown.group(1)
    form["digest"] = current.group(1)
    done = client.post("/approve", data=form, headers={"Origin": BASE}, follow_redirects=False)
    assert "approved" in done.headers["location"], done.headers["location"]
    with store.open_store(config.store_path) as db:
        assert store.approval(db, "2026-W47")[1] is not None  # type: ignore[index]


def _without_nonce(html: str) -> str:
    return re.sub(r'nonce="[^"]+"', "", html)


def test_logging_in_sets_a_host_cookie_and_refuses_alike(
    client: TestClient, config: Config
) -> None:
    _account(config, "admin")
    with store.open_store(config.store_path) as db:
        secret = rows.get_staff(db, "admin@staff.example.com").totp_secret  # type: ignore[union-attr]
    client.cookies.clear()
    answers = set()
    for email, password in [
        ("admin@staff.example.com", PASSWORD),  # no code
        ("admin@staff.example.com", "wrong password here"),
        ("nobody@staff.example.com", PASSWORD),
    ]:
        got = client.post(
            "/login", data={"email": email, "password": password}, headers={"Origin": BASE}
        )
        assert got.status_code == 401
        answers.add(_without_nonce(got.text))
    assert len(answers) == 1
    code = pyotp.TOTP(secret).at(NOW)
    ok = client.post(
        "/login",
        data={"email": "admin@staff.example.com", "password": PASSWORD, "code": code},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith("__Host-desk=")
    for part in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert part.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    assert (
        client.post("/login", data={}, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )


def test_headers_hosts_and_plain_http(config: Config, client: TestClient) -> None:
    got = client.get("/login")
    csp = got.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'nonce="{nonce.group(1)}"' in got.text
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in got.text and "<style>" not in got.text
    assert got.text.count(f'<script nonce="{nonce.group(1)}">') == 1
    assert got.headers["cache-control"] == "no-store"
    app = create_desk_app(config, clock=lambda: NOW)
    with TestClient(app, base_url="https://news.example.com") as other:
        assert other.get("/login").status_code == 400  # not the desk's Host
    with TestClient(app, base_url="http://desk.example.com") as plain:
        assert plain.get("/login").status_code == 400  # plain HTTP off loopback
    with TestClient(app, base_url="http://localhost:8030") as remote:
        assert remote.get("/login").status_code == 400  # a loopback name from afar
    with TestClient(app, base_url="http://127.0.0.1:8030", client=("127.0.0.1", 50000)) as local:
        assert local.get("/login").status_code == 200
        _account(config, "editor")
        ok = local.post(
            "/login",
            data={"email": "editor@staff.example.com", "password": PASSWORD},
            headers={"Origin": "http://127.0.0.1:8030"},
            follow_redirects=False,
        )
        assert ok.status_code == 303 and ok.headers["set-cookie"].startswith("desk=")
        assert "secure" not in ok.headers["set-cookie"].lower()
        assert local.get("/").status_code == 200


def test_log_out_everywhere_ends_every_session(client: TestClient, config: Config) -> None:
    other, _ = _account(config, "editor")
    csrf = _as(client, config, "editor")
    done = client.post(
        "/logout",
        data={"csrf_token": csrf, "everywhere": "1"},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with store.open_store(config.store_path) as db:
        assert accounts.session_for(config, db, other, NOW) is None


def test_reader_lookup_is_audited_and_an_admin_acts_on_a_reader(
    client: TestClient, config: Config
) -> None:
    csrf = _as(client, config, "admin")
    with store.open_store(config.store_path) as db:
        email = next(iter(store.iter_subscribers(db))).email
    page = client.get("/readers", params={"email": email})
    assert email in page.text and "Consent record" in page.text
    done = client.post(
        "/readers/act",
        data={"csrf_token": csrf, "email": email, "act": "remove"},
        headers={"Origin": BASE},
    )
    assert "remove done" in done.text
    with store.open_store(config.store_path) as db:
        assert store.get_subscriber(db, email).status == "unsubscribed"  # type: ignore[union-attr]
        actions = [(r["action"], r["target"]) for r in entries(db)][-3:]
    assert actions == [("reader.lookup", email), ("reader.remove", email), ("reader.lookup", email)]


def test_a_reset_link_sets_a_password_once(client: TestClient, config: Config) -> None:
    _account(config, "editor")
    with store.open_store(config.store_path) as db:
        link = accounts.reset_link(config, db, OPERATOR, "editor@staff.example.com", NOW)
    path = link.removeprefix(BASE)
    assert "editor@staff.example.com" in client.get(path).text
    done = client.post(path, data={"password": "a brand new passphrase"}, headers={"Origin": BASE})
    assert "Your password is set" in done.text
    assert "used already" in client.get(path).text
    assert (
        client.post(
            path, data={"password": "another passphrase!"}, headers={"Origin": BASE}
        ).status_code
        == 400
    )


def test_the_approve_form_says_whether_the_test_copy_is_of_this_edition(
    client: TestClient, config: Config
) -> None:
    with store.open_store(config.store_path) as db:
        store.request_approval(db, "2026-W47", NOW)
    csrf = _as(client, config, "publisher")
    week = {"week": "2026-W47"}
    assert "No test copy" in client.get("/edition", params=week).text
    sent = client.post("/test", data={"csrf_token": csrf, **week}, headers={"Origin": BASE})
    assert "Test copy of 2026-W47 sent to publisher@staff.example.com" in sent.text, sent.text
    assert list((config.outbox_path / "2026-W47" / "test").glob("*.eml"))
    assert "this same edition" in client.get("/edition", params=week).text
    with store.open_store(config.store_path) as db:
        set_note(config, db, OPERATOR, "2026-W47", NOW, text="Changed after the test.")
    assert "an earlier state" in client.get("/edition", params=week).text


def test_an_editor_sees_any_readers_copy_and_a_viewer_only_the_sample(
    client: TestClient, config: Config
) -> None:
    with store.open_store(config.store_path) as db:
        reader = next(iter(store.iter_subscribers(db)))
    _as(client, config, "editor")
    params = {"week": "2026-W47", "subscriber": reader.email}
    page = client.get("/edition", params=params).text
    assert "subscriber=" in page and reader.email in page
    copy = client.get("/edition/copy", params=params)
    assert reader.email in copy.text  # their own copy: their unsubscribe footer names them
    assert copy.headers["content-security-policy"].startswith("sandbox;")
    assert copy.headers["x-frame-options"] == "SAMEORIGIN"
    with store.open_store(config.store_path) as db:
        last = entries(db)[-1]
    assert (last["action"], last["target"], last["target_kind"]) == (
        "reader.copy",
        reader.email,
        "reader",
    )
    _as(client, config, "viewer")
    assert reader.email not in client.get("/edition/copy", params=params).text
    assert reader.email not in client.get("/edition", params=params).text


def test_the_note_preview_is_the_editions_safe_markdown(client: TestClient, config: Config) -> None:
    csrf = _as(client, config, "editor")
    shown = client.post(
        "/note/preview",
        data={"note": "Hello *there* <script>alert(1)</script>"},
        headers={"Origin": BASE, "X-CSRF-Token": csrf},
    )
    assert "<em>there</em>" in shown.text and "<script>" not in shown.text


def _answer(challenge: str, kind: str = "webauthn.get", cred: str = "AAAA") -> bytes:
    import base64
    import json

    data = json.dumps({"type": kind, "challenge": challenge, "origin": BASE}).encode()
    client_data = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return json.dumps(
        {
            "id": cred,
            "rawId": cred,
            "type": "public-key",
            "response": {
                "clientDataJSON": client_data,
                "authenticatorData": "AAAA",
                "signature": "AAAA",
                "attestationObject": "AAAA",
            },
        }
    ).encode()


def test_forged_passkey_answers_are_refused_like_a_wrong_password(
    client: TestClient, config: Config
) -> None:
    json_headers = {"Origin": BASE, "Content-Type": "application/json"}
    assert (
        client.post("/login/passkey", content=b"not json", headers=json_headers).status_code == 401
    )
    never = client.post(
        "/login/passkey", content=_answer("bm90LWhhbmRlZC1vdXQ"), headers=json_headers
    )
    assert never.status_code == 401
    options = client.post("/login/passkey-options", headers={"Origin": BASE}).json()
    assert options["rpId"] == "desk.example.com" and options["userVerification"] == "required"
    unknown = client.post(
        "/login/passkey", content=_answer(options["challenge"]), headers=json_headers
    )
    assert unknown.status_code == 401
    replayed = client.post(
        "/login/passkey", content=_answer(options["challenge"]), headers=json_headers
    )
    assert replayed.status_code == 401  # the challenge was spent by the first try
    assert len({never.text, unknown.text, replayed.text}) == 1
    with store.open_store(config.store_path) as db:
        details = [str(r["detail"]) for r in entries(db) if r["action"] == "login"]
    assert any("unknown passkey" in d for d in details)
    assert any("never handed out, spent or expired" in d for d in details)
    # a registration answering another account's challenge is refused
    csrf = _as(client, config, "viewer")
    theirs = client.post("/passkeys/options", headers={"Origin": BASE, "X-CSRF-Token": csrf}).json()
    csrf = _as(client, config, "editor")
    stolen = client.post(
        "/passkeys/add",
        content=_answer(theirs["challenge"], "webauthn.create"),
        headers={**json_headers, "X-CSRF-Token": csrf},
    )
    assert stolen.status_code == 400 and "no challenge of yours" in stolen.json()["error"]


@pytest.mark.parametrize(
    ("wanted", "lands"),
    [
        ("/feeds", "/feeds"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
    ],
)
def test_after_logging_in_only_a_desk_path_is_followed(
    client: TestClient, config: Config, wanted: str, lands: str
) -> None:
    _account(config, "editor")
    client.cookies.clear()
    ok = client.post(
        "/login",
        data={"email": "editor@staff.example.com", "password": PASSWORD, "next": wanted},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == lands


def test_past_editions_show_their_counts_and_who_left_since(
    client: TestClient, config: Config
) -> None:
    from digest.content.weeks import week_window
    from digest.delivery.sending import send_edition
    from digest.readers.unsubscribe import unsubscribe

    with store.open_store(config.store_path) as db:
        report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
        assert report is not None
        reader = next(iter(store.iter_subscribers(db)))
        assert unsubscribe(db, reader, NOW, "one-click")
    _as(client, config, "viewer")
    page = client.get("/").text
    row = re.search(r"<tr><td>2026-W47</td>(.*?)</tr>", page)
    assert row, page
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[1] == str(report.count("sent")) and cells[-2] == "1"


def test_an_admin_adds_resets_and_removes_staff_from_the_desk(
    client: TestClient, config: Config
) -> None:
    csrf = _as(client, config, "admin")
    origin = {"Origin": BASE}
    added = client.post(
        "/staff/add",
        data={"csrf_token": csrf, "email": "New@Staff.example.com", "role": "editor"},
        headers=origin,
    )
    link = re.search(r'<code id="link">([^<]+)</code>', added.text)
    assert link and "new@staff.example.com: added as editor" in added.text
    path = link.group(1).removeprefix(BASE)
    assert client.get(path).status_code == 200 and "new@staff.example.com" in client.get(path).text
    reset = client.post(
        "/staff/reset", data={"csrf_token": csrf, "email": "new@staff.example.com"}, headers=origin
    )
    assert "used already" in client.get(path).text  # the earlier link is spent by the new one
    assert re.search(r'<code id="link">', reset.text)
    removed = client.post(
        "/staff/remove", data={"csrf_token": csrf, "email": "new@staff.example.com"}, headers=origin
    )
    assert "removed" in removed.text
    with store.open_store(config.store_path) as db:
        assert rows.get_staff(db, "new@staff.example.com") is None
        actions = [r["action"] for r in entries(db) if r["target"] == "new@staff.example.com"]
    assert actions == ["staff.add", "staff.reset", "staff.reset", "staff.remove"]


@pytest.mark.parametrize(
    "route", [r for r in POSTS if r.permission == PUBLIC], ids=lambda r: r.path
)
def test_every_public_post_refuses_a_foreign_or_missing_origin(
    client: TestClient, route: desk.DeskRoute
) -> None:
    path = _path(route)
    assert client.post(path, data={}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(path, data={}).status_code == 403
    assert client.post(path, data={}, headers={"Origin": "null"}).status_code == 403
