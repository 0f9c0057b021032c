"""The sign-up pages: GET/POST /subscribe and GET/POST /confirm/<token>.

They adapt `digest.signup`: parse the form, make one call, render a page (or JSON for
sites that post with fetch and `Accept: application/json`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from digest import store
from digest.config import Config
from digest.errors import RowError
from digest.models import Clock
from digest.signup import (
    Confirmation,
    SignupRequest,
    TooManySignups,
    check_confirmation,
    confirm,
    sign_up,
    signup_topics,
)
from digest.unsubscribe import mask_email

Render = Callable[..., HTMLResponse]
FormReader = Callable[[Request], Awaitable[dict[str, list[str]]]]
BodyReader = Callable[[Request], Awaitable[bytes]]
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
    ):
        self.config = config
        self.clock = clock
        self.render = render
        self.read_form = read_form
        self.read_body = read_body

    async def subscribe(self, request: Request) -> Response:
        """GET: the form. POST: a sign-up, answered the same for every valid address."""
        if request.method == "GET":
            return await run_in_threadpool(self._form_page, request, "", {}, 200)
        form = await self.read_form(request)
        wants_json = "application/json" in request.headers.get("accept", "")
        sign = SignupRequest(
            email=_first(form, "email"),
            name=_first(form, "name"),
            topics=tuple(form.get("topics", [])),
            honeypot=_first(form, "website"),
            client=self._client(request),
        )
        try:
            answer = await run_in_threadpool(self._sign_up, sign)
        except RowError as e:
            if wants_json:
                return JSONResponse({"ok": False, "error": e.reason}, status_code=400)
            return await run_in_threadpool(self._form_page, request, e.reason, form, 400)
        except TooManySignups as e:
            if wants_json:
                return JSONResponse({"ok": False, "error": str(e)}, status_code=429)
            return self.render("error.html.j2", 429, heading="Too many sign-ups", message=str(e))
        if wants_json:
            return JSONResponse({"ok": True, "message": CHECK_INBOX})
        return self.render(
            "check_inbox.html.j2", email=answer.email, subscribe=f"{self.config.base_url}/subscribe"
        )

    async def confirm(self, request: Request) -> Response:
        """GET: a page with one button, changing nothing. POST: confirm."""
        token = request.path_params["token"]
        if request.method == "POST":
            await self.read_body(request)  # any body, even none, confirms; still capped
            found = await run_in_threadpool(self._with_db, confirm, token)
        else:
            found = await run_in_threadpool(self._with_db, check_confirmation, token)
        if found.state != "valid" or found.subscriber is None:
            return self._again(found)
        masked = mask_email(found.subscriber.email)
        if request.method == "GET" and found.subscriber.status != "active":
            return self.render("confirm.html.j2", masked=masked, action=request.url.path)
        return self.render("welcome.html.j2", masked=masked, preferences=found.preferences_url)

    def _again(self, found: Confirmation) -> Response:
        subscribe = f"{self.config.base_url}/subscribe"
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

    def _sign_up(self, request: SignupRequest) -> Any:
        with store.open_store(self.config.store_path) as db:  # one per request
            return sign_up(db, self.config, request, self.clock())

    def _with_db(self, action: Callable[..., Confirmation], token: str) -> Confirmation:
        with store.open_store(self.config.store_path) as db:
            return action(db, self.config, token, self.clock())

    def _form_page(
        self, request: Request, error: str, form: dict[str, list[str]], code: int
    ) -> HTMLResponse:
        with store.open_store(self.config.store_path) as db:
            topics = signup_topics(db, self.config)
        return self.render(
            "subscribe.html.j2",
            code,
            action=request.url.path,
            error=error,
            email=_first(form, "email"),
            name=_first(form, "name"),
            topics=topics,
            chosen=set(form.get("topics", [])),
        )

    def _client(self, request: Request) -> str:
        """The client's address: the configured proxy header's last entry (the one the
        trusted proxy added), else the socket's peer. Never a header nobody configured."""
        header = self.config.signup.client_ip_header
        if header:
            values = request.headers.get(header, "")
            entries = [v.strip() for v in values.split(",") if v.strip()]
            if entries:
                return entries[-1]
        return request.client.host if request.client else ""


def _first(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0][:1000]
