"""The subscriber's side on the web: one-click unsubscribe (RFC 8058), preferences, the
sign-up pages (`web_signup`) and the archive.

A Starlette app served by uvicorn (`digest serve`). Routes are paths only; the public
origin comes from ``[newsletter] base_url``, and the routes answer both under its path
(``/digest/unsubscribe/...``) and at the root, for proxies that strip the prefix. Every
form posts to the public URL built from base_url, so it works either way.

- GET of a link never changes anything (mail gateways follow every link).
- POST of ``List-Unsubscribe=One-Click`` (form-encoded or multipart, no cookies, no
  CSRF token: what Gmail and Yahoo send, from their servers) unsubscribes at once,
  answers 200, and is idempotent.
- The other POSTs (sign-up, confirmation, preferences, keep sending) come only from the site's own
  pages: a browser's Origin (or Referer) must be base_url's origin or one of
  `[web] origins`; a request that carries neither (not a browser) is taken.
- Only the Host names of base_url, `[web] hosts` and localhost are answered (400 else):
  a DNS-rebinding page cannot reach the app through the reader's browser.
- A forged, altered or unknown token answers 404 and changes nothing.
- SQLite and rendering run in a thread pool, never on the event loop: a send's long
  transaction cannot hold a one-click unsubscribe.
- Queued one-off emails (sign-up confirmations, welcomes) are sent by a task beside the
  pages, never while a reader waits; so are the webhooks out (`hooks.sender`).
- ``POST /webhooks/<provider>`` (ses, sendgrid, mailgun, postmark) takes a provider's
  bounce, complaint and unsubscribe events, each request verified the provider's way
  (`returns.webhooks`); 401/403 and no change for anything else.
- ``/api/v1`` (`web.api`): the API for a CMS and a CRM, bearer tokens with scopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import Message
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import jinja2
from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from digest import store
from digest.config import Config, require_real_secret
from digest.errors import DigestError
from digest.hooks.sender import deliver as deliver_hooks
from digest.models import Clock
from digest.readers.notices import send_queued
from digest.readers.signup import preferences_url
from digest.readers.sunset import KeepLink, check_keep, keep
from digest.readers.unsubscribe import (
    apply_preferences,
    mask_email,
    preferences_view,
    subscriber_for_token,
    unsubscribe,
)
from digest.resources import packaged_templates
from digest.returns.webhook_auth import (
    CertificateFetcher,
    Guesses,
    WebhookRefused,
    fetch_certificate,
)
from digest.returns.webhooks import WebhookResult
from digest.returns.webhooks import receive as receive_webhook
from digest.web.api import Api
from digest.web.signup_pages import SignupPages, client_address
from digest.web.stores import StorePool

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BODY = 16 * 1024  # a form with every topic ticked is far below this
MAX_WEBHOOK_BODY = 4 * 1024 * 1024  # a provider's batch of events (SendGrid: up to ~1,000)
QUEUE_EVERY = 5.0  # seconds between passes over the queued emails
HOOKS_EVERY = 2.0  # seconds between passes of the webhook sender
# Headers of every page, the archive's included.
SECURITY_HEADERS = {
    # A token may be in the URL: never pass it to another site. (Not "no-referrer": a
    # browser then sends "Origin: null" with the page's own forms.)
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    # No other site may frame these pages (clickjacking of the unsubscribe button).
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", **SECURITY_HEADERS}


def create_app(
    config: Config,
    clock: Clock | None = None,
    send_queue: bool = True,
    certificates: CertificateFetcher = fetch_certificate,
) -> Starlette:
    """The web app for ``config``; ``clock`` is injectable for tests, and
    ``send_queue`` runs the task that sends queued emails (on by default);
    ``certificates`` fetches SNS's signing certificates (HTTPS by default).

    Refuses (ConfigError) without a real DIGEST_SECRET: every link's signature is
    checked with it.
    """
    require_real_secret(config, "`digest serve` (it checks every link's signature)")
    pages = _Pages(config, clock or (lambda: datetime.now(UTC)))
    pages.certificates = certificates
    signup = SignupPages(config, pages.clock, pages.render, _form, _body, pages.in_thread)
    routes = [
        Route("/subscribe", signup.subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", signup.confirm, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["GET", "POST"]),
        Route("/preferences/{token}", pages.preferences, methods=["GET", "POST"]),
        Route("/keep/{token}", pages.keep, methods=["GET", "POST"]),
        Route("/healthz", pages.health, methods=["GET"]),
        Route("/webhooks/{provider}", pages.webhook, methods=["POST"]),
        *Api(config, pages.clock, pages.in_thread).routes(),
        Mount(
            "/archive",
            _WithHeaders(StaticFiles(directory=config.archive_path, html=True, check_dir=False)),
        ),
    ]
    prefix = urlsplit(config.base_url).path.rstrip("/")
    return Starlette(
        routes=[Mount(prefix, routes=routes), *routes] if prefix else routes,
        exception_handlers={HTTPException: pages.error},  # type: ignore[dict-item]
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(config)),
            Middleware(_SameOrigin, allowed=allowed_origins(config)),
        ],
        lifespan=_lifespan(config, pages, send_queue),
    )


def allowed_hosts(config: Config) -> list[str]:
    """Host names the app answers: base_url's, `[web] hosts`, and localhost."""
    base = urlsplit(config.base_url).hostname or ""
    return sorted({base, *config.web.hosts, "localhost", "127.0.0.1", "[::1]"} - {""})


def allowed_origins(config: Config) -> frozenset[str]:
    """Origins that may post the forms: base_url's and `[web] origins`."""
    parts = urlsplit(config.base_url)
    return frozenset({f"{parts.scheme}://{parts.netloc}", *config.web.origins})


def _lifespan(config: Config, pages: _Pages, send_queue: bool) -> Callable[[Starlette], Any]:
    """The queue's sender task beside the pages (when ``send_queue``); the pages' store
    connections closed at the end."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = []
        if send_queue:
            pages.queued = asyncio.Event()
            tasks = [
                asyncio.create_task(_send_queue_forever(config, pages.clock, pages.queued)),
                asyncio.create_task(_send_webhooks_forever(config, pages.clock)),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            pages.stores.close()

    return lifespan


async def _send_queue_forever(config: Config, clock: Clock, queued: asyncio.Event) -> None:
    """Send what is queued: at once when a page queued something, else every
    `QUEUE_EVERY` seconds (to retry what the relay deferred)."""
    while True:
        queued.clear()
        try:
            await run_in_threadpool(send_queue_once, config, clock)
        except (DigestError, OSError) as e:  # the relay or the store: try again later
            log.error("queued emails could not be sent: %s", e)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queued.wait(), QUEUE_EVERY)


async def _send_webhooks_forever(config: Config, clock: Clock) -> None:
    """Webhooks out (`hooks.sender`), every `HOOKS_EVERY` seconds."""
    while True:
        try:
            await run_in_threadpool(send_webhooks_once, config, clock)
        except (DigestError, OSError) as e:  # the store: try again later
            log.error("webhooks could not be sent: %s", e)
        await asyncio.sleep(HOOKS_EVERY)


def send_webhooks_once(config: Config, clock: Clock) -> None:
    """One pass of the webhook sender, with a store of its own."""
    with store.open_store(config.store_path) as db:
        if not store.endpoints(db, enabled_only=True):
            return
        report = deliver_hooks(db, config, clock)
    for problem in report.problems:
        log.warning("webhook not delivered: %s", problem)
    for disabled in report.disabled:
        log.error("webhook endpoint disabled: %s", disabled)


def send_queue_once(config: Config, clock: Clock) -> None:
    """One pass over the queued emails, with a store of its own."""
    with store.open_store(config.store_path) as db:
        run = send_queued(config, db, clock)
    if run.problem:
        log.warning("queued emails wait: %s", run.problem)


class _SameOrigin:
    """State-changing POSTs from a browser on another site are refused (403): its Origin,
    else its Referer, must be allowed. The one-click unsubscribe is exempt: RFC 8058's
    POST comes from the mailbox provider, and it can only take a reader off. So are the
    webhooks: no browser sends them, and each is verified by its provider's signature."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self._foreign(scope):
            response = Response("Forms are taken from this site's own pages only.", 403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _foreign(self, scope: Scope) -> bool:
        if "/unsubscribe/" in scope["path"] or "/webhooks/" in scope["path"]:
            return False  # the mailbox provider's POST; a provider's signed webhook
        if "/api/v1/" in scope["path"]:
            return False  # a bearer token, never a cookie: no other site can borrow it
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin", "")
        if not origin and headers.get("referer"):
            parts = urlsplit(headers["referer"])
            origin = f"{parts.scheme}://{parts.netloc}"
        return bool(origin) and origin not in self.allowed


class _WithHeaders:
    """The archive's files with the pages' security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class _Pages:
    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.queued: asyncio.Event | None = None  # set to wake the queue's sender
        self.certificates: CertificateFetcher = fetch_certificate
        self.guesses = Guesses()  # wrong webhook passwords per client
        # One store connection per worker thread at a time, reused: opening the store
        # (WAL, pragmas, the migration check) costs more than a one-click unsubscribe.
        self.stores = StorePool(config.store_path)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(packaged_templates("web"))),
            auto_reload=False,  # packaged pages: no stat of each template per request
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, name: str, code: int = 200, /, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(newsletter=self.config.newsletter, **context)
        return HTMLResponse(html, status_code=code, headers=_HEADERS)

    async def in_thread(self, work: Callable[[Database], T]) -> T:
        """Run ``work`` with a store connection of its own (`StorePool`) in the thread
        pool, off the event loop."""
        try:
            return await run_in_threadpool(self.stores.run, work)
        finally:
            if self.queued is not None:  # whatever it queued goes out now
                self.queued.set()

    async def error(self, request: Request, exc: HTTPException) -> Response:
        heading, message = _ERRORS.get(exc.status_code, ("Something went wrong", exc.detail))
        if "application/json" in request.headers.get("accept", "") or request.headers.get(
            "content-type", ""
        ).startswith("application/json"):
            return JSONResponse({"ok": False, "error": message}, exc.status_code, _HEADERS)
        return await run_in_threadpool(
            self.render, "error.html.j2", exc.status_code, heading=heading, message=message
        )

    async def health(self, request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    async def webhook(self, request: Request) -> Response:
        """A provider's events (`returns.webhooks.receive`): 200 with what was applied,
        401/403 (nothing changed) for a request not proven to be the provider's."""
        provider = request.path_params["provider"]
        body = await _body(request, MAX_WEBHOOK_BODY)
        headers = request.headers
        client, now = client_address(self.config, request), self.clock()

        def work(db: Database) -> WebhookResult:
            return receive_webhook(
                db, self.config, provider, headers, body, now, fetch=self.certificates
            )

        try:
            self.guesses.check(client, now)  # a client guessing a password waits
            result = await self.in_thread(work)
        except WebhookRefused as e:
            if e.guess:
                self.guesses.failed(client, now)
            log.warning("webhook %s refused: %s", provider, e)
            return JSONResponse({"ok": False, "error": str(e)}, e.status, _HEADERS)
        return JSONResponse(
            {
                "ok": True,
                "applied": [p.as_dict() for p in result.plans],
                "repeated": result.repeated,
                "confirmed": result.confirmed,
            },
            headers=_HEADERS,
        )

    async def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        form = await _form(request) if request.method == "POST" else None
        if form is not None and form.get("List-Unsubscribe") != ["One-Click"]:
            raise HTTPException(400, "The request must carry List-Unsubscribe=One-Click.")

        def work(db: Database) -> HTMLResponse:
            subscriber = _subscriber(db, self.config, token)
            links = self._links("unsubscribe", token)
            if form is None:
                return self.render(
                    "unsubscribe.html.j2", masked=mask_email(subscriber.email), **links
                )
            unsubscribe(db, subscriber, self.clock(), "one-click")
            return self.render("unsubscribed.html.j2", masked=mask_email(subscriber.email), **links)

        return await self.in_thread(work)

    async def preferences(self, request: Request) -> Response:
        token = request.path_params["token"]
        form = await _form(request) if request.method == "POST" else None

        def work(db: Database) -> HTMLResponse:
            subscriber = _subscriber(db, self.config, token)
            saved = self._apply_preferences(db, subscriber, form) if form else ""
            view = preferences_view(db, self.config, subscriber)
            return self.render(
                "preferences.html.j2",
                masked=mask_email(view.subscriber.email),
                status=view.subscriber.status,
                topics=view.topics,
                chosen=set(view.subscriber.topics),
                saved=saved,
                **self._links("preferences", token),
            )

        return await self.in_thread(work)

    async def keep(self, request: Request) -> Response:
        """The re-permission email's link. GET: a page with one button, changing nothing
        (mail scanners fetch every link). POST (from the page): the reader stays, or
        comes back from lapsed. 404 for a forged or altered link, 410 for an expired one
        or a reader who left the list since."""
        token = request.path_params["token"]
        posted = request.method == "POST"
        if posted:
            await _form(request)  # a form, within the size limit, like every other POST

        def work(db: Database) -> HTMLResponse:
            now = self.clock()
            found = (keep if posted else check_keep)(db, self.config, token, now)
            return self._keep_page(found, token, posted)

        return await self.in_thread(work)

    def _keep_page(self, found: KeepLink, token: str, posted: bool) -> HTMLResponse:
        subscriber = found.subscriber
        if found.state == "invalid" or subscriber is None:
            raise HTTPException(404)
        subscribe = f"{self.config.base_url}/subscribe"
        if found.state in ("expired", "left"):
            message = (
                "Links to keep receiving it work for a limited time, and this one ran out."
                if found.state == "expired"
                else "You left the list since this email, so this link no longer brings you back."
            )
            heading = "This link has expired" if found.state == "expired" else "You left the list"
            return self.render(
                "signup_again.html.j2", 410, heading=heading, message=message, subscribe=subscribe
            )
        links = {
            "action": f"{self.config.base_url}/keep/{token}",
            "preferences": preferences_url(self.config, subscriber.id),
        }
        masked = mask_email(subscriber.email)
        if not posted:
            return self.render("keep.html.j2", masked=masked, **links)
        return self.render("kept.html.j2", masked=masked, back=found.kept, **links)

    def _apply_preferences(self, db: Database, subscriber: Any, form: dict[str, Any]) -> str:
        action = (form.get("action") or [""])[0]
        topics = form.get("topics", [])
        said = apply_preferences(db, self.config, subscriber, action, topics, self.clock())
        if said is None:
            raise HTTPException(400, "Unknown action; use the buttons on the page.")
        return said

    def _links(self, page: str, token: str) -> dict[str, str]:
        """The page's own form action and its links, as public URLs: right behind a proxy
        that keeps the base path and one that strips it."""
        base = self.config.base_url
        return {"action": f"{base}/{page}/{token}", "preferences": f"{base}/preferences/{token}"}


_ERRORS = {
    400: ("That request was not understood", "Please use the buttons on the page."),
    404: (
        "This link is not valid",
        "It may be mistyped or incomplete. Use the link in a "
        "recent email, or reply to any email to ask us to remove you.",
    ),
    405: ("That request was not understood", "Please use the buttons on the page."),
    413: ("That request was too large", "Please use the buttons on the page."),
    415: ("That request was not understood", "Send a form, or JSON to /subscribe."),
}


def _subscriber(db: Database, config: Config, token: str) -> Any:
    subscriber = subscriber_for_token(db, config, token)
    if subscriber is None:
        raise HTTPException(404)
    return subscriber


async def _form(request: Request) -> dict[str, list[str]]:
    """The POSTed form, urlencoded or multipart, refused when too large or not a form."""
    return parse_form(request.headers.get("content-type", ""), await _body(request))


async def _body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413)
    return bytes(body)


def parse_form(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Fields of a form body; HTTPException 415 for other types, 400 for broken bodies."""
    header = Message()
    header["Content-Type"] = content_type or "application/octet-stream"
    kind = header.get_content_type()
    try:
        if kind == "application/x-www-form-urlencoded":
            return parse_qs(
                body.decode("utf-8"),
                keep_blank_values=True,
                max_num_fields=100,
                strict_parsing=bool(body),
            )
        if kind == "multipart/form-data" and header.get_param("boundary"):
            return _multipart(content_type, body)
    except (UnicodeDecodeError, ValueError, LookupError) as e:  # LookupError: unknown charset
        raise HTTPException(400, f"Malformed form body: {e}") from e
    raise HTTPException(415)


def _multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart() or message.defects:
        raise ValueError("not a well-formed multipart body")
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        if part.get_content_maintype() not in ("text", "application"):
            raise ValueError(f"a form field cannot be of type {part.get_content_type()}")
        value = part.get_content()
        if isinstance(value, bytes):  # application/octet-stream: a browser's plain field
            value = value.decode("utf-8")
        fields.setdefault(str(name), []).append(value.strip())
    return fields
