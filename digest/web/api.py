"""`/api/v1` on `digest serve`: a CMS writes articles, a CRM syncs readers.

Why `serve` and not the editors' desk: `serve` is the server that is always running
beside the list (sign-ups, one-click unsubscribes, providers' webhooks), and the API's
writes are the same as theirs (the import's rules, double opt-in, forget); the desk is
a staff server of its own for people with a browser session, while the API is for
machines with a bearer token.

- Every route is declared once, by `@route` on its handler, with the scope it needs;
  the OpenAPI document (`digest/web/openapi.json`, served at `/api/v1/openapi.json`)
  says the same, and a test holds both ways.
- Bearer tokens (`digest tokens add`), compared by their SHA-256; a token is limited
  to `[api] requests_per_minute` (a bucket of `[api] burst`), then 429.
- Every error is one shape: ``{"error": {"code", "message", "fix"}}``.
- Store work runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import unquote

from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest import store
from digest.config import Config
from digest.content.ingest import canonical_url, import_batch, import_record, short_value
from digest.errors import RowError, SubscriberError, SubscriberKeptError, TooManySignups
from digest.models import Clock
from digest.readers.signup import SignupRequest, sign_up
from digest.readers.subscribers import add_with_consent, remove_subscriber
from digest.store import to_db_time
from digest.web.access import token_for

T = TypeVar("T")
PREFIX = "/api/v1"
MAX_BATCH = 1000  # articles in one POST /articles:batch (the OpenAPI document's maxItems)
MAX_PAGE = 1000  # subscribers in one page of the sync
MAX_API_BODY = 64 * 1024 * 1024  # a batch of MAX_BATCH articles with their bodies
_HEADERS = {"Cache-Control": "no-store"}
_WEEK = re.compile(r"^\d{4}-W\d{2}$")
_CURSOR = re.compile(r"^c(\d{1,18})$")

InThread = Callable[[Callable[[Database], T]], Awaitable[T]]


class ApiError(Exception):
    """An answer other than success: its HTTP status, a code, what happened, the fix."""

    def __init__(self, status: int, code: str, message: str, fix: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fix = fix
        self.extra = extra
        self.headers: dict[str, str] = {}

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message, "fix": self.fix}}
        return JSONResponse({**body, **self.extra}, self.status, {**_HEADERS, **self.headers})


@dataclass(frozen=True)
class ApiRoute:
    """One route: method, path under /api/v1, the scopes that may call it (any one;
    none: public), and the handler's name."""

    method: str
    path: str
    scopes: tuple[str, ...]
    handler: str


ROUTES: list[ApiRoute] = []


def route(method: str, path: str, *scopes: str) -> Callable[[Callable[..., Any]], Any]:
    """Declare a route and the scopes it needs, on its handler."""

    def register(handler: Callable[..., Any]) -> Any:
        ROUTES.append(ApiRoute(method, path, scopes, handler.__name__))
        return handler

    return register


@dataclass
class Bucket:
    """A token bucket: ``tokens`` left at ``at``."""

    tokens: float
    at: datetime


@dataclass
class RateLimit:
    """Requests per token: `[api] burst` at once, then `[api] requests_per_minute`."""

    per_minute: int
    burst: int
    buckets: dict[int, Bucket] = field(default_factory=dict)

    def take(self, token_id: int, now: datetime) -> float:
        """Spend one request; 0 when allowed, else the seconds until one is."""
        rate = self.per_minute / 60.0
        bucket = self.buckets.setdefault(token_id, Bucket(float(self.burst), now))
        elapsed = max(0.0, (now - bucket.at).total_seconds())
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


@dataclass(frozen=True)
class Caller:
    """The token a request came with."""

    id: int
    name: str
    scopes: tuple[str, ...]


class Api:
    """The API's handlers over one config, clock and thread pool."""

    def __init__(self, config: Config, clock: Clock, in_thread: InThread[Any]) -> None:
        self.config = config
        self.clock = clock
        self.in_thread = in_thread
        self.limit = RateLimit(config.api.requests_per_minute, config.api.burst)

    def routes(self) -> list[Route]:
        """The Starlette routes, each behind the token check of its scopes."""
        made = [Route(f"{PREFIX}/openapi.json", self.openapi, methods=["GET"])]
        for r in ROUTES:
            made.append(Route(PREFIX + r.path, self._guarded(r), methods=[r.method]))
        return made

    def _guarded(self, r: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
        handler = getattr(self, r.handler)

        async def endpoint(request: Request) -> Response:
            try:
                caller = await self._caller(request, r.scopes)
                answer: Response = await handler(request, caller)
                return answer
            except ApiError as e:
                return e.response()

        return endpoint

    async def _caller(self, request: Request, scopes: tuple[str, ...]) -> Caller:
        header = request.headers.get("authorization", "")
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            raise ApiError(
                401,
                "unauthorized",
                "no bearer token was sent",
                "send `Authorization: Bearer <token>` with a token `digest tokens add` made",
            )
        now = self.clock()

        def look(db: Database) -> Caller | None:
            row = token_for(db, presented.strip())
            if row is None:
                return None
            if row.last_used_at < to_db_time(now - timedelta(minutes=1)):
                with store.transaction(db):
                    store.mark_token_used(db, row.id, now)
            return Caller(row.id, row.name, row.scopes)

        caller: Caller | None = await self.in_thread(look)
        if caller is None:
            raise ApiError(
                401,
                "invalid_token",
                "the bearer token is not one of this digest's (revoked, or mistyped)",
                "`digest tokens list` names the tokens; `digest tokens add` makes a new one",
            )
        wait = self.limit.take(caller.id, now)
        if wait > 0:
            error = ApiError(
                429,
                "rate_limited",
                f"token {caller.name!r} made more than {self.limit.per_minute} requests a minute",
                f"wait {math.ceil(wait)} s (Retry-After), or send many articles in one "
                "POST /articles:batch",
            )
            error.headers["Retry-After"] = str(math.ceil(wait))
            raise error
        if scopes and not set(scopes) & set(caller.scopes):
            raise ApiError(
                403,
                "missing_scope",
                f"token {caller.name!r} lacks the scope this route needs: {' or '.join(scopes)}",
                f"make a token with it: `digest tokens add NAME --scope {scopes[0]}`",
            )
        return caller

    async def openapi(self, request: Request) -> Response:
        return Response(
            openapi_text(), media_type="application/json", headers={"Cache-Control": "no-cache"}
        )

    # ------------------------------------------------------------ articles

    @route("PUT", "/articles/{key:path}", "articles:write")
    async def put_article(self, request: Request, caller: Caller) -> Response:
        """Upsert one article by the import's rules, under the CMS's key or its URL."""
        record = await _json_object(request)
        record = _keyed(unquote(request.path_params["key"]), record)
        now = self.clock()

        def work(db: Database) -> str:
            return import_record(db, record, self.config.tz, now)

        try:
            outcome = await self.in_thread(work)
        except RowError as e:
            raise _invalid(e) from e
        return JSONResponse(
            {
                "key": request.path_params["key"],
                "url": canonical_url(str(record["url"])),
                "outcome": outcome,
            },
            201 if outcome == "added" else 200,
            _HEADERS,
        )

    @route("GET", "/articles/{key:path}", "articles:read")
    async def get_article(self, request: Request, caller: Caller) -> Response:
        """One article as the store holds it, by the CMS's key or its URL."""
        key = unquote(request.path_params["key"])
        keyed = _keyed(key, {})
        url = str(keyed.get("url", ""))
        found = await self.in_thread(
            lambda db: store.article_by_key(db, url, str(keyed.get("guid", "")))
        )
        if found is None:
            raise ApiError(
                404,
                "not_found",
                f"no article has the key {key!r}",
                "PUT it first, or name it by its CMS key or percent-encoded URL",
            )
        return JSONResponse(
            {
                "key": request.path_params["key"],
                "url": found.url,
                "guid": found.guid,
                "title": found.title,
                "excerpt": found.excerpt,
                "author": found.author,
                "published_at": found.published_at.isoformat(),
                "topics": list(found.topics),
                "status": found.status,
                "featured": found.featured,
                "score": found.score,
                "image_url": found.image_url,
            },
            200,
            _HEADERS,
        )

    @route("POST", "/articles:batch", "articles:write")
    async def batch_articles(self, request: Request, caller: Caller) -> Response:
        """Many articles; each bad one named by its index while the rest import."""
        body = await _json_object(request)
        records = body.get("articles")
        if not isinstance(records, list):
            raise ApiError(
                422,
                "invalid_body",
                'the body has no "articles" list',
                'send {"articles": [{"url": ..., "title": ...}, ...]}',
            )
        if len(records) > MAX_BATCH:
            raise ApiError(
                413,
                "too_many_items",
                f"{len(records)} articles in one batch; the most is {MAX_BATCH}",
                f"split them into batches of at most {MAX_BATCH}",
            )
        now = self.clock()
        report = await self.in_thread(lambda db: import_batch(db, records, self.config.tz, now))
        return JSONResponse(report.as_dict(), 200, _HEADERS)

    # ------------------------------------------------------------ subscribers

    @route("GET", "/subscribers", "subscribers:read")
    async def list_subscribers(self, request: Request, caller: Caller) -> Response:
        """The sync: readers in the order they changed, from a cursor."""
        after = _cursor(request.query_params.get("changed_since", ""))
        limit = _limit(request.query_params.get("limit", ""))
        rows = await self.in_thread(lambda db: store.subscribers_changed_after(db, after, limit))
        last = rows[-1][0] if rows else after
        return JSONResponse(
            {
                "subscribers": [_subscriber(r) for _, r in rows],
                "next_cursor": f"c{last}",
            },
            200,
            _HEADERS,
        )

    @route("POST", "/subscribers", "subscribers:write", "subscribers:import")
    async def add_subscriber(self, request: Request, caller: Caller) -> Response:
        """Double opt-in; with `subscribers:import` and consent evidence, active at once."""
        body = await _json_object(request)
        email = body.get("email")
        if not isinstance(email, str) or not email.strip():
            raise ApiError(
                422, "invalid_body", 'the body has no "email"', 'send {"email": "reader@..."}'
            )
        name = str(body.get("name") or "")
        topics = _topics(body.get("topics"))
        consent = body.get("consent")
        now = self.clock()
        if consent is None:
            if "subscribers:write" not in caller.scopes:
                raise ApiError(
                    403,
                    "missing_scope",
                    "a sign-up without consent evidence needs subscribers:write",
                    'send "consent": {"at": ..., "source": ...} with this token, or use a '
                    "token with --scope subscribers:write (the reader gets a confirmation)",
                )
            client = str(body.get("ip") or f"api:{caller.name}")
            signup = SignupRequest(email, name, topics, client=client)
            try:
                answer = await self.in_thread(lambda db: sign_up(db, self.config, signup, now))
            except RowError as e:
                raise _invalid(e) from e
            except TooManySignups as e:
                raise ApiError(
                    429,
                    "too_many_signups",
                    str(e),
                    "try again in an hour; pass the reader's "
                    "\"ip\" so one client's limit is not every reader's",
                ) from e
            return JSONResponse(
                {"email": answer.email, "double_opt_in": True, "status": "pending"},
                202,
                _HEADERS,
            )
        if "subscribers:import" not in caller.scopes:
            raise ApiError(
                403,
                "missing_scope",
                "adding a reader with consent evidence needs subscribers:import",
                "leave out consent (the reader confirms by email), or use a token with "
                "--scope subscribers:import",
            )
        at, source = _consent(consent)
        try:
            address, outcome = await self.in_thread(
                lambda db: add_with_consent(
                    db, self.config, email, name, topics, at, f"api {caller.name}: {source}", now
                )
            )
        except RowError as e:
            raise _invalid(e) from e
        except SubscriberKeptError as e:
            raise ApiError(
                409, "subscriber_left", str(e), "only the reader may come back: their own sign-up"
            ) from e
        except SubscriberError as e:
            raise ApiError(
                409, "subscriber_erased", str(e), "only the reader's own confirmed sign-up"
            ) from e
        return JSONResponse(
            {"email": address, "double_opt_in": False, "outcome": outcome, "status": "active"},
            201 if outcome == "added" else 200,
            _HEADERS,
        )

    @route("DELETE", "/subscribers/{email}", "subscribers:write")
    async def forget_subscriber(self, request: Request, caller: Caller) -> Response:
        """Forget a reader: erased with their history, the suppression hash kept."""
        email = unquote(request.path_params["email"])
        now = self.clock()
        try:
            await self.in_thread(
                lambda db: remove_subscriber(db, self.config, email, now, forget=True)
            )
        except SubscriberError as e:
            raise ApiError(
                404, "not_found", str(e), "check the address; `GET /subscribers` lists them"
            ) from e
        return JSONResponse({"email": email, "forgotten": True}, 200, _HEADERS)

    # ------------------------------------------------------------ editions

    @route("GET", "/editions/{period}", "editions:read")
    async def get_edition(self, request: Request, caller: Caller) -> Response:
        """What a frozen edition holds and its delivery counts."""
        period = request.path_params["period"]
        if not _WEEK.match(period):
            raise ApiError(
                400,
                "bad_period",
                f"{period!r} is not an ISO week",
                "name the week as YYYY-Www, e.g. 2026-W47",
            )

        def work(db: Database) -> dict[str, Any] | None:
            row = store.get_edition(db, period)
            if row is None:
                return None
            return _edition(row, store.delivery_counts(db, row.id))

        found = await self.in_thread(work)
        if found is None:
            raise ApiError(
                404,
                "not_found",
                f"no edition of {period} was frozen",
                "an edition exists once `digest send` (or the weekly run) froze it; "
                "`digest status` lists them",
            )
        return JSONResponse(found, 200, _HEADERS)


def openapi_text() -> str:
    """The OpenAPI document as shipped."""
    return resources.files("digest.web").joinpath("openapi.json").read_text("utf-8")


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, parsed."""
    document: dict[str, Any] = json.loads(openapi_text())
    return document


async def _json_object(request: Request) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "the body is not JSON",
            "send it with `Content-Type: application/json`",
        )
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_API_BODY:
            raise ApiError(
                413,
                "body_too_large",
                f"the body is larger than {MAX_API_BODY // (1024 * 1024)} MiB",
                "send fewer articles a request",
            )
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(
            400, "invalid_json", f"the body is not JSON: {e}", "send one JSON object"
        ) from e
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body is not a JSON object", "send one JSON object")
    return body


def _keyed(key: str, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its key: a canonical URL as the URL, else the CMS's id (kept as
    the article's guid)."""
    if re.match(r"^https?://", key, re.IGNORECASE):
        try:
            url = canonical_url(key)
            given = canonical_url(str(record["url"])) if record.get("url") else url
        except RowError as e:
            raise _invalid(e) from e
        if given != url:
            raise ApiError(
                422,
                "key_mismatch",
                f"the path names {url} but the body's url is {given}",
                "send the article under its own URL, or under the CMS's id for it",
            )
        return {**record, "url": url}
    if not key or len(key) > 200 or any(ord(c) < 32 for c in key):
        raise ApiError(
            400,
            "bad_key",
            "the article's key is empty, too long or has control characters",
            "use the CMS's id for the story (up to 200 characters), or its percent-encoded URL",
        )
    if record.get("guid") and str(record["guid"]) != key:
        raise ApiError(
            422,
            "key_mismatch",
            f"the path's key {key!r} is not the body's guid {record['guid']!r}",
            "leave guid out of the body (the key is kept as it), or send the same",
        )
    return {**record, "guid": key}


def _invalid(e: RowError) -> ApiError:
    return ApiError(
        422,
        "invalid",
        e.reason,
        "correct the value named and send it again (the same rules as `digest import`)",
        value=short_value(e.value),
    )


def _cursor(given: str) -> int:
    if not given:
        return 0
    found = _CURSOR.match(given)
    if found is None:
        raise ApiError(
            400,
            "bad_cursor",
            f"{given[:40]!r} is not a cursor this API gave",
            "pass next_cursor from the last page as it was, or leave changed_since out to "
            "start from the beginning",
        )
    return int(found.group(1))


def _limit(given: str) -> int:
    if not given:
        return MAX_PAGE
    if not given.isdigit() or not 1 <= int(given) <= MAX_PAGE:
        raise ApiError(
            400, "bad_limit", f"limit={given[:20]!r}", f"a whole number from 1 to {MAX_PAGE}"
        )
    return int(given)


def _topics(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return tuple(t.strip() for t in value if t.strip())
    raise ApiError(
        422, "invalid", '"topics" must be a list of names', 'send "topics": ["Tech", "Science"]'
    )


def _consent(value: Any) -> tuple[datetime, str]:
    fix = 'send "consent": {"at": "2026-01-31T09:00:00Z", "source": "the form on ..."}'
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_consent", "consent must be an object", fix)
    source = value.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ApiError(422, "invalid_consent", "consent has no source (how they joined)", fix)
    try:
        at = datetime.fromisoformat(str(value.get("at", "")).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, "invalid_consent", "consent.at is not an ISO 8601 time", fix) from None
    if at.tzinfo is None:
        raise ApiError(422, "invalid_consent", "consent.at has no timezone", fix)
    return at, " ".join(source.split())[:200]


def _subscriber(r: dict[str, Any]) -> dict[str, Any]:
    if r.get("gone"):  # erased or never confirmed: the id only, nothing of the person
        return {"id": r["id"], "status": "gone"}
    return {
        "id": r["id"],
        "email": r["email"],
        "name": r["name"],
        "topics": [t for t in str(r["topics"]).split(",") if t],
        "status": r["status"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }


def _edition(row: store.EditionRow, counts: dict[str, int]) -> dict[str, Any]:
    payload = row.payload
    return {
        "week": row.week,
        "status": row.status,
        "subject": row.subject,
        "frozen_at": row.created_at,
        "finished_at": row.finished_at,
        "sections": [
            {
                "topic": s.get("topic", ""),
                "articles": [{"url": a["url"], "title": a["title"]} for a in s.get("articles", [])],
            }
            for s in payload.get("sections", [])
        ],
        "counts": counts,
    }


__all__ = ["MAX_BATCH", "ROUTES", "Api", "ApiError", "openapi_document"]
