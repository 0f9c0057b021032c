"""The editors' live preview (`digest preview --serve`): the coming edition as HTML,
as text and in a phone-width frame, for any subscriber, reloading by itself when a
template, the stylesheet, the config or the store changes. Its page is
`templates/web/preview.html.j2`; its routes are the functions below, sharing the
config through the app's state.

Every view is built by `preview_for`, the same path `send` uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest import store
from digest.config import Config
from digest.content.edition import resolve_week
from digest.content.render import templates_dir
from digest.delivery.preview import preview_for
from digest.errors import WeekError
from digest.models import Clock, SubscriberStatus, Week
from digest.readers.subscribers import list_subscribers
from digest.resources import packaged_templates

PREVIEW_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class PreviewView:
    """What the preview shows when the address does not say: `preview --serve --week W
    --subscriber EMAIL --text` opens it there."""

    week: str | None = None
    subscriber: str = ""
    text: bool = False

    def query(self) -> str:
        """The same view as a query string for the desk's address."""
        params = {"week": self.week or "", "subscriber": self.subscriber}
        params = {k: v for k, v in params.items() if v}
        if self.text:
            params["text"] = "1"
        return ("?" + urlencode(params)) if params else ""


@dataclass(frozen=True)
class _Preview:
    """What the routes share: the config, the clock, the default view, the page."""

    config: Config
    now: Clock
    view: PreviewView
    page: jinja2.Template


def create_preview_app(
    config: Config, clock: Clock | None = None, view: PreviewView = PreviewView()
) -> Starlette:
    """The preview app for editors; serve it on 127.0.0.1 only. Its handlers are plain
    functions: Starlette runs them in its thread pool, off the event loop. ``view`` is
    what it shows when the address does not say."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(packaged_templates("web"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app = Starlette(
        exception_handlers={WeekError: _bad_week},
        # Only its own names: a page on another site that rebinds its DNS name to
        # 127.0.0.1 cannot read subscriber addresses through the editor's browser.
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(PREVIEW_HOSTS))],
        routes=ROUTES,
    )
    now = clock or (lambda: datetime.now(UTC))
    app.state.preview = _Preview(config, now, view, env.get_template("preview.html.j2"))
    return app


def _state(request: Request) -> _Preview:
    preview = request.app.state.preview
    assert isinstance(preview, _Preview)
    return preview


def _week_of(request: Request) -> Week:
    p = _state(request)
    label = request.query_params.get("week") or p.view.week
    return resolve_week(p.config, label, p.now(), source="?week=")


def _render(request: Request) -> tuple[str, str] | None:
    p = _state(request)
    week = _week_of(request)
    with store.open_store(p.config.store_path) as db:
        email = request.query_params.get("subscriber", p.view.subscriber) or None
        result = preview_for(p.config, db, week, email, p.now())
    return (result.html, result.text) if result else None


def shell(request: Request) -> Response:
    """The page: the email at full width and in a phone frame, or its plain text."""
    p = _state(request)
    week = _week_of(request).label
    chosen = request.query_params.get("subscriber", p.view.subscriber)
    with store.open_store(p.config.store_path) as db:
        readers = list(islice(list_subscribers(db, SubscriberStatus.ACTIVE), 500))
    page = p.page.render(
        week=week,
        name=p.config.newsletter.name,
        readers=readers,
        chosen=chosen,
        query=urlencode({"week": week, "subscriber": chosen}),
        text=bool(request.query_params.get("text", "1" if p.view.text else "")),
        version=change_stamp(p.config),
    )
    return HTMLResponse(page)


def email_html(request: Request) -> Response:
    """The copy's HTML part, as `send` would build it."""
    found = _render(request)
    if found is None:
        return HTMLResponse(f"<p>No published articles in {_week_of(request).label}.</p>")
    return HTMLResponse(found[0])


def email_text(request: Request) -> Response:
    """The copy's plain-text part."""
    found = _render(request)
    return PlainTextResponse(found[1] if found else "No published articles.")


def version(request: Request) -> Response:
    """The change stamp the page polls to reload itself."""
    return PlainTextResponse(change_stamp(_state(request).config))


async def _bad_week(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(str(exc), status_code=400)


ROUTES = [
    Route("/", shell),
    Route("/email.html", email_html),
    Route("/email.txt", email_text),
    Route("/version", version),
]


def change_stamp(config: Config) -> str:
    """Changes whenever a template, the stylesheet, the config or the store changes."""
    paths = [config.path, *sorted(Path(templates_dir(config)).glob("*"))]
    paths += [config.store_path, config.store_path.with_name(config.store_path.name + "-wal")]
    stamps = [f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in paths if p.exists()]
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]
