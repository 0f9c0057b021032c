"""The sign-up pages: GET/POST /subscribe and GET/POST /confirm/<token>.

They adapt `digest.readers.signup`: parse the form (or a JSON body `{"email", "name",
"topics"}`), make one call, render a page (or JSON, for a JSON body or `Accept:
application/json`). Every valid sign-up is answered no sooner than `[signup]
answer_seconds` after it arrived, so how long the answer takes says nothing about the
address.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlite_utils import Database
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from digest.config import Config
from digest.errors import RowError, TooManySignups
from digest.models import Clock
from digest.readers.signup import (
    Confirmation,
    SignupRequest,
    check_confirmation,
    confirm,
    sign_up,
    signup_topics,
)
from digest.readers.unsubscribe import mask_email

Render = Callable[..., HTMLResponse]
FormReader = Callable[[Request], Awaitable[dict[str, list[str]]]]
BodyReader = Callable[[Request], Awaitable[bytes]]
InThread = Callable[[Callable[[Database], Any]], Awaitable[Any]]
CHECK_INBOX = "Check your inbox: if that address can receive the newsletter, a link is on its way."


class SignupPages:
    """The handlers, given the app's renderer, form reader and clock."""

    def __init__(
        self,
        config: Config,
        clock: Clock,
        render: Render,
        read_form: FormReader,
        read_body: BodyReader,
        in_thread: InThread,
    ):
        self.config = config
        self.clock = clock
        self.render = render
        self.read_form = read_form
        self.read_body = read_body
        self.in_thread = in_thread  # store work off the event loop

    async def subscribe(self, request: Request) -> Response:
        """GET: the form. POST: a sign-up, answered the same, and after the same time,
        for every valid address."""
        if request.method == "GET":
            return await self._form_page("", {}, 200)
        started = time.monotonic()
        is_json = request.headers.get("content-type", "").startswith("application/json")
        wants_json = is_json or "application/json" in request.headers.get("accept", "")
        form = await self._json_form(request) if is_json else await self.read_form(request)
        sign = SignupRequest(
            email=_first(form, "email"),
            name=_first(form, "name"),
            topics=tuple(form.get("topics", [])),
            honeypot=_first(form, "website"),
            client=self._client(request),
        )
        try:
            answer = await self.in_thread(lambda db: sign_up(db, self.config, sign, self.clock()))
        except RowError as e:
            if wants_json:
                return JSONResponse({"ok": False, "error": e.reason}, status_code=400)
            return await self._form_page(e.reason, form, 400)
        except TooManySignups as e:
            if wants_json:
                return JSONResponse({"ok": False, "error": str(e)}, status_code=429)
            return self.render("error.html.j2", 429, heading="Too many sign-ups", message=str(e))
        await asyncio.sleep(
            max(0.0, self.config.signup.answer_seconds - (time.monotonic() - started))
        )
        if wants_json:
            return JSONResponse({"ok": True, "message": CHECK_INBOX})
        return self.render(
            "check_inbox.html.j2", email=answer.email, subscribe=self._url("subscribe")
        )

    async def _json_form(self, request: Request) -> dict[str, list[str]]:
        """A JSON body as the form's fields: email and name strings, topics a list (or a
        comma-separated string); 400 for anything else."""
        try:
            data = json.loads(await self.read_body(request))
        except (ValueError, UnicodeDecodeError) as e:
            raise HTTPException(400, f"The body is not JSON: {e}") from e
        if not isinstance(data, dict):
            raise HTTPException(400, 'Send an object: {"email": ..., "name": ..., "topics": [...]}')
        topics = data.get("topics") or []
        topics = topics.split(",") if isinstance(topics, str) else topics
        fields = {k: data.get(k) for k in ("email", "name", "website")}
        if not all(isinstance(v, str | None) for v in fields.values()) or not isinstance(
            topics, list
        ):
            raise HTTPException(400, "email and name must be strings, topics a list of strings.")
        form = {k: [v] for k, v in fields.items() if isinstance(v, str)}
        form["topics"] = [str(t).strip() for t in topics if str(t).strip()]
        return form

    async def confirm(self, request: Request) -> Response:
        """GET: a page with one button, changing nothing. POST: confirm."""
        token = request.path_params["token"]
        action = confirm if request.method == "POST" else check_confirmation
        if request.method == "POST":
            await self.read_body(request)  # any body, even none, confirms; still capped
        found = await self.in_thread(lambda db: action(db, self.config, token, self.clock()))
        if found.state != "valid" or found.subscriber is None:
            return self._again(found)
        masked = mask_email(found.subscriber.email)
        unconfirmed = found.signup is not None and found.signup.confirmed_at is None
        if request.method == "GET" and unconfirmed:
            url = self._url(f"confirm/{token}")
            return self.render("confirm.html.j2", masked=masked, action=url)
        return self.render("welcome.html.j2", masked=masked, preferences=found.preferences_url)

    def _again(self, found: Confirmation) -> Response:
        subscribe = self._url("subscribe")
        if found.state == "used":
            return self.render(
                "signup_again.html.j2",
                410,
                heading="This link was already used",
                message="A newer sign-up or a later change of your subscription replaced it.",
                subscribe=subscribe,
            )
        if found.state == "expired":
            return self.render(
                "signup_again.html.j2",
                410,
                heading="This link has expired",
                message="Confirmation links work for a limited time, and this one ran out.",
                subscribe=subscribe,
            )
        return self.render(
            "signup_again.html.j2",
            404,
            heading="This link does not work",
            message="It may be mistyped or incomplete.",
            subscribe=subscribe,
        )

    def _url(self, path: str) -> str:
        """A public URL of these pages: right with or without a proxy that strips the
        base path."""
        return f"{self.config.base_url}/{path}"

    async def _form_page(self, error: str, form: dict[str, list[str]], code: int) -> HTMLResponse:
        topics = await self.in_thread(lambda db: signup_topics(db, self.config))
        return self.render(
            "subscribe.html.j2",
            code,
            action=self._url("subscribe"),
            error=error,
            email=_first(form, "email"),
            name=_first(form, "name"),
            topics=topics,
            chosen=set(form.get("topics", [])),
        )

    def _client(self, request: Request) -> str:
        return client_address(self.config, request)


def client_address(config: Config, request: Request) -> str:
    """The client's address: the configured proxy header's last entry (the one the
    trusted proxy added), else the socket's peer. Never a header nobody configured."""
    header = config.signup.client_ip_header
    if header:
        values = request.headers.get(header, "")
        entries = [v.strip() for v in values.split(",") if v.strip()]
        if entries:
            return entries[-1]
    return request.client.host if request.client else ""


def _first(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0][:2000]  # longer than any limit, so the limit's own error is shown
