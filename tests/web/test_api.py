"""/api/v1: bearer tokens and their scopes, the import's rules for articles, the sync
from a cursor, double opt-in unless there is consent evidence, forget, editions, one
error shape, limits per token, and the OpenAPI document both ways."""

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from digest import store
from digest.config import Config
from digest.readers.subscribers import add_subscriber, remove_subscriber
from digest.web.access import add_token
from digest.web.api import MAX_BATCH, ROUTES, openapi_document
from digest.web.app import create_app

from ..conftest import NOW, make_config, running


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(config: Config, clock: Clock) -> Iterator[TestClient]:
    with TestClient(
        create_app(config, clock=clock, send_queue=False), base_url="https://news.example.com"
    ) as c:
        yield c


def _token(config: Config, *scopes: str, name: str = "cms") -> dict[str, str]:
    db = store.open_store(config.store_path)
    made = add_token(db, name, scopes, NOW)
    db.close()
    return {"Authorization": f"Bearer {made.token}"}


def _error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()["error"]
    assert body["code"] == code and body["message"] and body["fix"]
    return dict(body)


def test_no_token_a_wrong_one_and_a_missing_scope_are_refused_in_one_shape(
    api: TestClient, config: Config
) -> None:
    _error(api.get("/api/v1/subscribers"), 401, "unauthorized")
    forged = {"Authorization": "Bearer dgt_" + "A" * 43}
    _error(api.get("/api/v1/subscribers", headers=forged), 401, "invalid_token")
    writer = _token(config, "articles:write")
    fault = _error(api.get("/api/v1/subscribers", headers=writer), 403, "missing_scope")
    assert "subscribers:read" in fault["message"] and "--scope subscribers:read" in fault["fix"]


def test_a_revoked_token_stops_working_at_once(api: TestClient, config: Config) -> None:
    reader = _token(config, "subscribers:read")
    assert api.get("/api/v1/subscribers", headers=reader).status_code == 200
    db = store.open_store(config.store_path)
    store.delete_token(db, "cms")
    db.close()
    _error(api.get("/api/v1/subscribers", headers=reader), 401, "invalid_token")


def test_put_by_the_cms_key_upserts_one_article_and_keeps_the_key(
    api: TestClient, config: Config
) -> None:
    auth = _token(config, "articles:write")
    record = {
        "url": "https://News.example.com/story?utm_source=x",
        "title": "A story",
        "published_at": "2026-11-18T10:00:00Z",
    }
    first = api.put("/api/v1/articles/cms-42", json=record, headers=auth)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "key": "cms-42",
        "url": "https://news.example.com/story",
        "outcome": "added",
    }
    again = api.put("/api/v1/articles/cms-42", json=record, headers=auth)
    assert again.json()["outcome"] == "unchanged"
    moved = {**record, "url": "https://news.example.com/story-renamed", "title": "Renamed"}
    changed = api.put("/api/v1/articles/cms-42", json=moved, headers=auth)
    assert changed.status_code == 200 and changed.json()["outcome"] == "updated"
    db = store.open_store(config.store_path)
    rows = list(db.query("SELECT url, guid, title FROM articles"))
    db.close()
    assert rows == [
        {"url": "https://news.example.com/story-renamed", "guid": "cms-42", "title": "Renamed"}
    ]


def test_put_by_the_percent_encoded_url_and_the_imports_errors(
    api: TestClient, config: Config
) -> None:
    auth = _token(config, "articles:write")
    url = "https://news.example.com/a/b"
    ok = api.put(f"/api/v1/articles/{quote(url, safe='')}", json={"title": "T"}, headers=auth)
    assert ok.status_code == 201, ok.text
    assert ok.json()["url"] == url
    other = api.put(
        f"/api/v1/articles/{quote(url, safe='')}",
        json={"title": "T", "url": "https://news.example.com/else"},
        headers=auth,
    )
    _error(other, 422, "key_mismatch")
    bad = api.put("/api/v1/articles/k1", json={"title": "No URL"}, headers=auth)
    fault = _error(bad, 422, "invalid")
    assert "url" in fault["message"]
    _error(
        api.put(
            "/api/v1/articles/k1",
            content=b"{",
            headers={**auth, "Content-Type": "application/json"},
        ),
        400,
        "invalid_json",
    )
    _error(
        api.put("/api/v1/articles/k1", content=b"x", headers=auth), 415, "unsupported_media_type"
    )


def test_a_batch_names_each_bad_row_by_its_index_and_imports_the_rest(
    api: TestClient, config: Config
) -> None:
    auth = _token(config, "articles:write")
    articles: list[Any] = [
        {
            "url": f"https://news.example.com/b/{n}",
            "title": f"B {n}",
            "published_at": "2026-11-18T10:00:00Z",
        }
        for n in range(5)
    ]
    articles[1] = {"url": "ftp://news.example.com/x", "title": "bad scheme"}
    articles[3] = "not an object"
    answer = api.post("/api/v1/articles:batch", json={"articles": articles}, headers=auth)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["added"], report["skipped"]) == (3, 2)
    assert [e["index"] for e in report["errors"]] == [1, 3]
    assert "http(s)" in report["errors"][0]["reason"]
    too_many = [{"url": "https://news.example.com/", "title": "t"}] * (MAX_BATCH + 1)
    _error(
        api.post("/api/v1/articles:batch", json={"articles": too_many}, headers=auth),
        413,
        "too_many_items",
    )
    _error(api.post("/api/v1/articles:batch", json={"rows": []}, headers=auth), 422, "invalid_body")


def test_the_sync_pages_from_a_cursor_and_sees_every_later_change(
    api: TestClient, config: Config, clock: Clock
) -> None:
    db = store.open_store(config.store_path)
    for n in range(5):
        add_subscriber(db, config, f"r{n}@example.org", "", "", NOW)
    db.close()
    auth = _token(config, "subscribers:read")
    first = api.get("/api/v1/subscribers?limit=3", headers=auth).json()
    assert [s["email"] for s in first["subscribers"]] == [
        "r0@example.org",
        "r1@example.org",
        "r2@example.org",
    ]
    second = api.get(
        f"/api/v1/subscribers?limit=3&changed_since={first['next_cursor']}", headers=auth
    ).json()
    assert [s["email"] for s in second["subscribers"]] == ["r3@example.org", "r4@example.org"]
    quiet = api.get(
        f"/api/v1/subscribers?changed_since={second['next_cursor']}", headers=auth
    ).json()
    assert quiet == {"subscribers": [], "next_cursor": second["next_cursor"]}
    db = store.open_store(config.store_path)  # the same second: a time would miss it
    store.set_subscriber_status(db, "r0@example.org", "unsubscribed", NOW)
    db.close()
    later = api.get(
        f"/api/v1/subscribers?changed_since={quiet['next_cursor']}", headers=auth
    ).json()
    assert [(s["email"], s["status"]) for s in later["subscribers"]] == [
        ("r0@example.org", "unsubscribed")
    ]
    db = store.open_store(config.store_path)  # the newest change erased: its number stays used
    remove_subscriber(db, config, "r0@example.org", NOW, forget=True)
    store.set_subscriber_status(db, "r1@example.org", "unsubscribed", NOW)
    db.close()
    after = api.get(
        f"/api/v1/subscribers?changed_since={later['next_cursor']}", headers=auth
    ).json()
    assert after["subscribers"] == [
        {"id": 1, "status": "gone"},  # forgotten: the id the CRM knows, nothing else
        {**after["subscribers"][1], "email": "r1@example.org", "status": "unsubscribed"},
    ]
    _error(api.get("/api/v1/subscribers?changed_since=2026-11-25", headers=auth), 400, "bad_cursor")
    _error(api.get("/api/v1/subscribers?limit=5000", headers=auth), 400, "bad_limit")


def test_a_sign_up_is_double_opt_in_without_consent_evidence(
    api: TestClient, config: Config
) -> None:
    auth = _token(config, "subscribers:write")
    answer = api.post(
        "/api/v1/subscribers", json={"email": "New@Example.org", "name": "N"}, headers=auth
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["double_opt_in"] is True
    db = store.open_store(config.store_path)
    found = store.get_subscriber(db, "new@example.org")
    queued = db.execute("SELECT count(*) FROM outgoing").fetchone()[0]
    db.close()
    assert found is not None and found.status == "pending" and queued == 1
    evidence = {
        "email": "x@example.org",
        "consent": {"at": "2026-01-02T03:04:05Z", "source": "CRM form"},
    }
    _error(api.post("/api/v1/subscribers", json=evidence, headers=auth), 403, "missing_scope")


def test_consent_evidence_with_subscribers_import_adds_an_active_reader_but_never_one_who_left(
    api: TestClient, config: Config
) -> None:
    auth = _token(config, "subscribers:import")
    evidence = {"at": "2026-01-02T03:04:05Z", "source": "CRM form"}
    added = api.post(
        "/api/v1/subscribers", json={"email": "c@example.org", "consent": evidence}, headers=auth
    )
    assert added.status_code == 201, added.text
    db = store.open_store(config.store_path)
    found = store.get_subscriber(db, "c@example.org")
    assert found is not None and found.status == "active"
    assert store.subscriber_events(db, found.id) == [("subscribed", "api")]
    store.set_subscriber_status(db, "c@example.org", "unsubscribed", NOW)
    db.close()
    back = api.post(
        "/api/v1/subscribers", json={"email": "c@example.org", "consent": evidence}, headers=auth
    )
    _error(back, 409, "subscriber_left")
    no_time = {"email": "d@example.org", "consent": {"source": "form", "at": "yesterday"}}
    _error(api.post("/api/v1/subscribers", json=no_time, headers=auth), 422, "invalid_consent")
    _error(
        api.post("/api/v1/subscribers", json={"email": "e@example.org"}, headers=auth),
        403,
        "missing_scope",
    )


def test_delete_forgets_a_reader_and_keeps_only_the_suppression_hash(
    api: TestClient, config: Config
) -> None:
    db = store.open_store(config.store_path)
    add_subscriber(db, config, "gone@example.org", "", "", NOW)
    db.close()
    auth = _token(config, "subscribers:write", "subscribers:import")
    answer = api.delete("/api/v1/subscribers/gone@example.org", headers=auth)
    assert answer.status_code == 200, answer.text
    db = store.open_store(config.store_path)
    assert store.get_subscriber(db, "gone@example.org") is None
    assert store.suppression_count(db) == 1
    db.close()
    evidence = {"at": "2026-01-02T03:04:05Z", "source": "old CRM export"}
    back = api.post(
        "/api/v1/subscribers", json={"email": "gone@example.org", "consent": evidence}, headers=auth
    )
    _error(back, 409, "subscriber_erased")
    _error(api.delete("/api/v1/subscribers/gone@example.org", headers=auth), 404, "not_found")


def test_an_edition_is_read_by_its_week(api: TestClient, config: Config) -> None:
    auth = _token(config, "editions:read")
    _error(api.get("/api/v1/editions/2026-W47", headers=auth), 404, "not_found")
    _error(api.get("/api/v1/editions/last-week", headers=auth), 400, "bad_period")
    db = store.open_store(config.store_path)
    add_subscriber(db, config, "r@example.org", "", "", NOW)
    store.freeze_edition(
        db,
        "2026-W47",
        {
            "week": "2026-W47",
            "sections": [
                {"topic": "Tech", "articles": [{"url": "https://news.example.com/x", "title": "X"}]}
            ],
        },
        [],
        NOW,
    )
    db.close()
    found = api.get("/api/v1/editions/2026-W47", headers=auth)
    assert found.status_code == 200, found.text
    data = found.json()
    assert data["week"] == "2026-W47" and data["status"] == "frozen"
    assert data["sections"] == [
        {"topic": "Tech", "articles": [{"url": "https://news.example.com/x", "title": "X"}]}
    ]


def test_each_token_is_limited_on_its_own_and_told_when_to_come_back(
    tmp_path: Path, clock: Clock
) -> None:
    config = make_config(tmp_path, api={"requests_per_minute": 60, "burst": 2})
    with TestClient(
        create_app(config, clock=clock, send_queue=False), base_url="https://news.example.com"
    ) as api:
        one = _token(config, "subscribers:read", name="one")
        two = _token(config, "subscribers:read", name="two")
        assert api.get("/api/v1/subscribers", headers=one).status_code == 200
        assert api.get("/api/v1/subscribers", headers=one).status_code == 200
        limited = api.get("/api/v1/subscribers", headers=one)
        _error(limited, 429, "rate_limited")
        assert limited.headers["Retry-After"] == "1"
        assert api.get("/api/v1/subscribers", headers=two).status_code == 200
        clock.now += timedelta(seconds=1)
        assert api.get("/api/v1/subscribers", headers=one).status_code == 200


def _app_routes(config: Config) -> set[tuple[str, str]]:
    app = create_app(config, send_queue=False)
    found = set()
    for r in app.routes:
        if isinstance(r, Route) and r.path.startswith("/api/v1/"):
            path = re.sub(r"\{(\w+):path\}", r"{\1}", r.path.removeprefix("/api/v1"))
            found |= {(m.lower(), path) for m in (r.methods or ()) if m != "HEAD"}
    return found


def test_the_openapi_document_names_every_route_and_no_other(config: Config) -> None:
    document = openapi_document()
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == _app_routes(config)


def test_the_openapi_document_says_each_routes_scopes_and_the_batch_maximum() -> None:
    paths = openapi_document()["paths"]
    for r in ROUTES:
        path = re.sub(r"\{(\w+):path\}", r"{\1}", r.path)
        operation = paths[path][r.method.lower()]
        assert operation["x-scopes"] == list(r.scopes), path
        assert operation["security"] == [{"bearer": []}]
    batch = paths["/articles:batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["$ref"] == "#/components/schemas/ArticleBatch"
    articles = openapi_document()["components"]["schemas"]["ArticleBatch"]["properties"]["articles"]
    assert articles["maxItems"] == MAX_BATCH


def test_the_document_is_served_and_the_api_answers_on_a_real_server(
    config: Config, clock: Clock
) -> None:
    auth = _token(config, "articles:write")
    with running(create_app(config, clock=clock, send_queue=False)) as port:
        base = f"http://127.0.0.1:{port}/api/v1"
        with urllib.request.urlopen(f"{base}/openapi.json") as answer:
            assert json.load(answer)["openapi"].startswith("3.")
        body = json.dumps({"articles": [{"url": "https://news.example.com/r", "title": "R"}]})
        request = urllib.request.Request(
            f"{base}/articles:batch",
            data=body.encode(),
            headers={**auth, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request) as answer:
            assert json.load(answer)["added"] == 1


def test_an_article_is_read_back_by_its_key_or_url_with_articles_read(
    api: TestClient, config: Config
) -> None:
    writer = _token(config, "articles:write", name="w")
    reader = _token(config, "articles:read", name="r")
    record = {"url": "https://news.example.com/s", "title": "S", "topics": ["Tech"]}
    assert api.put("/api/v1/articles/cms-7", json=record, headers=writer).status_code == 201
    by_key = api.get("/api/v1/articles/cms-7", headers=reader).json()
    assert (by_key["url"], by_key["guid"], by_key["topics"]) == (
        "https://news.example.com/s",
        "cms-7",
        ["Tech"],
    )
    by_url = api.get(f"/api/v1/articles/{quote(record['url'], safe='')}", headers=reader).json()
    assert by_url["guid"] == "cms-7"
    _error(api.get("/api/v1/articles/cms-8", headers=reader), 404, "not_found")
    _error(api.get("/api/v1/articles/cms-7", headers=writer), 403, "missing_scope")
