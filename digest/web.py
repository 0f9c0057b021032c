"""The subscriber's side on the web: one-click unsubscribe (RFC 8058) and preferences.

A Starlette app served by uvicorn (`digest serve`). Routes are paths only; the public
origin comes from ``[newsletter] base_url``, and the routes answer both under its path
(``/digest/unsubscribe/...``) and at the root, for proxies that strip the prefix.

- GET of a link never changes anything (mail gateways follow every link).
- POST of ``List-Unsubscribe=One-Click`` (form-encoded or multipart, no cookies, no
  CSRF token: what Gmail and Yahoo send) unsubscribes at once, answers 200, and is
  idempotent.
- A forged, altered or unknown token answers 404 and changes nothing.
"""

from __future__ import annotations

import email.parser
import email.policy
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from digest import store
from digest.config import Config
from digest.errors import ConfigError
from digest.models import Clock
from digest.resources import packaged_templates
from digest.unsubscribe import (
    apply_preferences,
    mask_email,
    preferences_view,
    subscriber_for_token,
    unsubscribe,
)
from digest.web_signup import SignupPages

MAX_BODY = 16 * 1024  # a form with every topic ticked is far below this
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    # No other site may frame these pages (clickjacking of the unsubscribe button).
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


def create_app(config: Config, clock: Clock | None = None) -> Starlette:
    """The web app for ``config``; ``clock`` is injectable for tests.

    Refuses (ConfigError) without DIGEST_SECRET: every link's signature is checked with it.
    """
    if not config.secret:
        raise ConfigError(
            "DIGEST_SECRET is not set: the pages check each link's signature with it. "
            "Set it to the same value the sender uses."
        )
    pages = _Pages(config, clock or (lambda: datetime.now(UTC)))
    signup = SignupPages(config, pages.clock, pages.render, _form, _body)
    routes = [
        Route("/subscribe", signup.subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", signup.confirm, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["GET", "POST"]),
        Route("/preferences/{token}", pages.preferences, methods=["GET", "POST"]),
        Route("/healthz", pages.health, methods=["GET"]),
        Mount("/archive", StaticFiles(directory=config.archive_path, html=True, check_dir=False)),
    ]
    prefix = urlsplit(config.base_url).path.rstrip("/")
    return Starlette(
        routes=[Mount(prefix, routes=routes), *routes] if prefix else routes,
        exception_handlers={HTTPException: pages.error},  # type: ignore[dict-item]
    )


class _Pages:
    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(packaged_templates("web"))),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, name: str, code: int = 200, /, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(newsletter=self.config.newsletter, **context)
        return HTMLResponse(html, status_code=code, headers=_HEADERS)

    async def error(self, request: Request, exc: HTTPException) -> Response:
        heading, message = _ERRORS.get(exc.status_code, ("Something went wrong", exc.detail))
        return self.render("error.html.j2", exc.status_code, heading=heading, message=message)

    async def health(self, request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    async def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        form = await _form(request) if request.method == "POST" else None
        with store.open_store(self.config.store_path) as db:  # one per request
            subscriber = _subscriber(db, self.config, token)
            links = self._links(request, token)
            if form is None:
                return self.render(
                    "unsubscribe.html.j2", masked=mask_email(subscriber.email), **links
                )
            if form.get("List-Unsubscribe") != ["One-Click"]:
                raise HTTPException(400, "The request must carry List-Unsubscribe=One-Click.")
            unsubscribe(db, subscriber, self.clock(), "one-click")
        return self.render("unsubscribed.html.j2", masked=mask_email(subscriber.email), **links)

    async def preferences(self, request: Request) -> Response:
        token = request.path_params["token"]
        form = await _form(request) if request.method == "POST" else None
        with store.open_store(self.config.store_path) as db:  # one per request
            subscriber = _subscriber(db, self.config, token)
            saved = self._apply_preferences(db, subscriber, form) if form else ""
            view = preferences_view(db, subscriber)
            return self.render(
                "preferences.html.j2",
                masked=mask_email(view.subscriber.email),
                status=view.subscriber.status,
                topics=view.topics,
                chosen=set(view.subscriber.topics),
                saved=saved,
                **self._links(request, token),
            )

    def _apply_preferences(self, db: Database, subscriber: Any, form: dict[str, Any]) -> str:
        action = (form.get("action") or [""])[0]
        said = apply_preferences(db, subscriber, action, form.get("topics", []), self.clock())
        if said is None:
            raise HTTPException(400, "Unknown action; use the buttons on the page.")
        return said

    def _links(self, request: Request, token: str) -> dict[str, str]:
        base = self.config.base_url
        return {"action": request.url.path, "preferences": f"{base}/preferences/{token}"}


_ERRORS = {
    400: ("That request was not understood", "Please use the buttons on the page."),
    404: (
        "This link is not valid",
        "It may be mistyped or incomplete. Use the link in a "
        "recent email, or reply to any email to ask us to remove you.",
    ),
    405: ("That request was not understood", "Please use the buttons on the page."),
    413: ("That request was too large", "Please use the buttons on the page."),
    415: ("That request was not understood", "Send the form as a web browser would."),
}


def _subscriber(db: Database, config: Config, token: str) -> Any:
    subscriber = subscriber_for_token(db, config, token)
    if subscriber is None:
        raise HTTPException(404)
    return subscriber


async def _form(request: Request) -> dict[str, list[str]]:
    """The POSTed form, urlencoded or multipart, refused when too large or not a form."""
    return parse_form(request.headers.get("content-type", ""), await _body(request))


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise HTTPException(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
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
