"""The editors' live preview (`digest preview --serve`): the coming edition as HTML,
as text and in a phone-width frame, for any subscriber, reloading by itself when a
template, the stylesheet, the config or the store changes.

Every view is built by `preview_edition`, the same path `send` uses.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from urllib.parse import urlencode

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
from digest.delivery.sending import preview_for
from digest.errors import WeekError
from digest.models import Clock, SubscriberStatus, Week
from digest.readers.subscribers import list_subscribers

_SHELL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: {week}</title>
<style>
body {{ margin: 0; font-family: Helvetica, Arial, sans-serif; background: #e4e7eb; }}
header {{ padding: 10px 16px; background: #0b3d62; color: #fff; display: flex; gap: 16px;
  align-items: center; flex-wrap: wrap; }}
header a, header select {{ color: #0b3d62; }}
main {{ display: flex; gap: 16px; padding: 16px; align-items: flex-start; }}
iframe {{ border: 0; background: #fff; box-shadow: 0 1px 4px rgba(0,0,0,.2); }}
#html {{ flex: 1; height: 85vh; }} #phone {{ width: 375px; height: 85vh; }}
#text {{ width: 100%; height: 85vh; }}
</style></head><body>
<header><strong>{name}: {week}</strong>
<label>Subscriber <select id="who" onchange="go()">{options}</select></label>
<label><input type="checkbox" id="textview" onchange="go()" {text_checked}> Plain text</label>
<span id="status">live</span></header>
<main>{frames}</main>
<script>
function go() {{
  const who = document.getElementById("who").value;
  const q = new URLSearchParams({{week: "{week}", subscriber: who}});
  if (document.getElementById("textview").checked) q.set("text", "1");
  location.search = q.toString();
}}
let seen = "{version}";  // what this page was built from
setInterval(async () => {{
  try {{
    const v = await (await fetch("version")).text();
    if (v !== seen) {{
      for (const f of document.querySelectorAll("iframe")) f.contentWindow.location.reload();
    }}
    seen = v;
  }} catch (e) {{ document.getElementById("status").textContent = "server stopped"; }}
}}, 1000);
</script></body></html>
"""


DESK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class DeskView:
    """What the desk shows when the address does not say: `preview --serve --week W
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


def create_preview_app(
    config: Config, clock: Clock | None = None, view: DeskView = DeskView()
) -> Starlette:
    """The preview app for editors; serve it on 127.0.0.1 only. Its handlers are plain
    functions: Starlette runs them in its thread pool, off the event loop. ``view`` is
    what it shows when the address does not say."""
    now = clock or (lambda: datetime.now(UTC))

    def week_of(request: Request) -> Week:
        label = request.query_params.get("week") or view.week
        return resolve_week(config, label, now(), source="?week=")

    def render(request: Request) -> tuple[str, str] | None:
        week = week_of(request)
        with store.open_store(config.store_path) as db:
            email = request.query_params.get("subscriber", view.subscriber) or None
            result = preview_for(config, db, week, email, now())
        return (result.html, result.text) if result else None

    def shell(request: Request) -> Response:
        week = week_of(request).label
        chosen = request.query_params.get("subscriber", view.subscriber)
        query = html.escape(urlencode({"week": week, "subscriber": chosen}))
        text = bool(request.query_params.get("text", "1" if view.text else ""))
        frames = (
            f'<iframe id="text" src="email.txt?{query}" title="plain text"></iframe>'
            if text
            else f'<iframe id="html" src="email.html?{query}" title="email"></iframe>'
            f'<iframe id="phone" src="email.html?{query}" title="phone, 375 px"></iframe>'
        )
        page = _SHELL.format(
            week=week,
            name=html.escape(config.newsletter.name),
            frames=frames,
            options=_options(config, chosen),
            text_checked="checked" if text else "",
            version=change_stamp(config),
        )
        return HTMLResponse(page)

    def email_html(request: Request) -> Response:
        found = render(request)
        if found is None:
            return HTMLResponse(f"<p>No published articles in {week_of(request).label}.</p>")
        return HTMLResponse(found[0])

    def email_text(request: Request) -> Response:
        found = render(request)
        return PlainTextResponse(found[1] if found else "No published articles.")

    def version(request: Request) -> Response:
        return PlainTextResponse(change_stamp(config))

    async def bad_week(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(str(exc), status_code=400)

    return Starlette(
        exception_handlers={WeekError: bad_week},
        # Only its own names: a page on another site that rebinds its DNS name to
        # 127.0.0.1 cannot read subscriber addresses through the editor's browser.
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(DESK_HOSTS))],
        routes=[
            Route("/", shell),
            Route("/email.html", email_html),
            Route("/email.txt", email_text),
            Route("/version", version),
        ],
    )


def _options(config: Config, chosen: str) -> str:
    with store.open_store(config.store_path) as db:
        readers = list(islice(list_subscribers(db, SubscriberStatus.ACTIVE), 500))
    rows = ['<option value="">sample reader, all topics</option>'] + [
        f'<option value="{html.escape(s.email)}"{" selected" if s.email == chosen else ""}>'
        f"{html.escape(s.email)} ({html.escape(', '.join(s.topics) or 'all topics')})</option>"
        for s in readers
    ]
    return "".join(rows)


def change_stamp(config: Config) -> str:
    """Changes whenever a template, the stylesheet, the config or the store changes."""
    paths = [config.path, *sorted(Path(templates_dir(config)).glob("*"))]
    paths += [config.store_path, config.store_path.with_name(config.store_path.name + "-wal")]
    stamps = [f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in paths if p.exists()]
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]
