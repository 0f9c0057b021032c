"""The editors' desk (`digest desk`): its own Starlette app behind a login, apart from
the public pages of `serve` (never the same origin, no shared cookie or route).

- Every route is a `DeskRoute` made by `@page(path, permission, methods)` where it is
  defined: the permission is checked before the handler runs, for GET and POST alike.
  Only the login and set-password pages are public (``PUBLIC``).
- Every POST needs a same-origin ``Origin``, a session (401 without), the session's
  CSRF token (a ``csrf_token`` form field or an ``X-CSRF-Token`` header) and the
  route's permission (403 each); a refusal with a session is written to the audit log.
- Only `[desk] base_url`'s Host and localhost are answered. Over plain HTTP only a
  loopback Host is served; elsewhere the TLS proxy must say https (X-Forwarded-Proto).
- The session cookie is ``__Host-desk`` (Secure, HttpOnly, SameSite=Strict, Path=/);
  over loopback HTTP it is ``desk`` (HttpOnly, SameSite=Strict): a browser keeps no
  Secure cookie from plain HTTP.
- A strict Content-Security-Policy with a nonce per response (no inline script
  without it), ``frame-ancestors 'none'``; no caching of any page.
- Each action is the call its CLI command makes (`staff.acts`, `staff.accounts`).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from markupsafe import escape
from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from digest import store
from digest.config import Config
from digest.errors import DigestError, LoginRefused
from digest.models import Clock
from digest.resources import packaged_templates
from digest.staff import accounts, acts
from digest.staff.accounts import Session, allows
from digest.staff.audit import Actor, entries, mask_address, record, state_hash
from digest.store import staff as store_staff

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
PUBLIC = "public"  # the permission of the pages anyone may open (log in, set a password)
SIGNED_IN = "signed-in"  # any account's: log out
MAX_FORM = 64 * 1024


@dataclass(frozen=True)
class Call:
    """What a handler gets: the request's form, query, session, the store and the
    desk. Handlers are plain functions, run in the thread pool."""

    desk: Desk
    db: Database
    session: Session | None
    form: dict[str, str]
    query: dict[str, str]
    path_params: dict[str, str]
    client: str
    nonce: str
    scheme: str
    raw: bytes = b""
    origin: str = ""
    rp_id: str = ""

    @property
    def actor(self) -> Actor:
        assert self.session is not None
        return Actor(self.session.email, self.session.role)

    def can(self, permission: str) -> bool:
        return self.session is not None and allows(self.session.role, permission)

    def page(self, template: str, status: int = 200, **values: Any) -> Response:
        return self.desk.render(self, template, status, **values)


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class DeskRoute:
    """A route of the desk: its path, methods, and the permission it needs."""

    path: str
    methods: tuple[str, ...]
    permission: str
    handler: Handler


ROUTES: list[DeskRoute] = []


def page(
    path: str, permission: str, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Handler], Handler]:
    """Declare a desk route where its handler is defined, with the permission it needs."""

    def declare(handler: Handler) -> Handler:
        ROUTES.append(DeskRoute(path, methods, permission, handler))
        return handler

    return declare


@dataclass
class Desk:
    """What the routes share: the config, the clock, the templates."""

    config: Config
    now: Clock
    env: jinja2.Environment

    def origin(self, request: Request) -> str:
        """This desk's own origin: base_url's when the Host is its, else the request's
        (a loopback name)."""
        return f"{request.url.scheme}://{request.headers.get('host', '')}"

    def render(self, call: Call, template: str, status: int, **values: Any) -> Response:
        html = self.env.get_template(template).render(
            name=self.config.newsletter.name,
            session=call.session,
            csrf=call.session.csrf if call.session else "",
            nonce=call.nonce,
            can=call.can,
            **values,
        )
        return HTMLResponse(html, status_code=status)


def create_desk_app(config: Config, clock: Clock | None = None) -> Starlette:
    """The desk for staff; `digest desk` serves it behind the TLS proxy."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(packaged_templates("web"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    desk = Desk(config, clock or (lambda: datetime.now(UTC)), env)
    hosts = list(LOOPBACK)
    if config.desk.base_url:
        hosts.append(urlsplit(config.desk.base_url).hostname or "")
    routes = [Route(r.path, _endpoint(desk, r), methods=list(r.methods)) for r in ROUTES]
    return Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)]
    )


def _cookie_name(request: Request) -> str:
    return "__Host-desk" if request.url.scheme == "https" else "desk"


def _loopback(request: Request) -> bool:
    """A loopback Host from a loopback client: the only place plain HTTP is served (a
    remote client naming localhost over HTTP would carry the cookie in the clear)."""
    client = request.client.host if request.client else ""
    return (request.url.hostname or "") in LOOPBACK and _is_loopback_address(client)


def _is_loopback_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _headers(response: Response, nonce: str) -> Response:
    response.headers.setdefault(  # the edition's copy sets its own: a sandbox
        "Content-Security-Policy",
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src 'self' data:; frame-src 'self'; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: under no-referrer Chromium posts forms with
    # "Origin: null", which the same-origin check must refuse
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _refuse(status: int, text: str, nonce: str) -> Response:
    return _headers(
        HTMLResponse(f"<!doctype html><title>{status}</title><p>{text}</p>", status), nonce
    )


def _endpoint(desk: Desk, route: DeskRoute) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        if request.url.scheme != "https" and not _loopback(request):
            return _refuse(400, "The desk is served over HTTPS only (or on localhost).", nonce)
        posted = request.method != "GET"
        form: dict[str, str] = {}
        body = b""
        if posted:
            body = await request.body()
            if len(body) > MAX_FORM:
                return _refuse(413, "That form is too large.", nonce)
            if not request.headers.get("content-type", "").startswith("application/json"):
                parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                form = {k: v[0] for k, v in parsed.items()}
        token = request.cookies.get(_cookie_name(request), "")
        return await run_in_threadpool(_run, desk, route, request, form, token, nonce, body)

    return endpoint


def _run(
    desk: Desk,
    route: DeskRoute,
    request: Request,
    form: dict[str, str],
    token: str,
    nonce: str,
    body: bytes,
) -> Response:
    now = desk.now()
    with store.open_store(desk.config.store_path) as db:
        session = accounts.session_for(desk.config, db, token, now)
        posted = request.method != "GET"
        client = request.client.host if request.client else ""

        def refused(status: int, why: str) -> Response:
            if session is not None:
                actor = Actor(session.email, session.role)
                record(
                    db,
                    now,
                    actor,
                    f"desk {request.method} {route.path}",
                    request.url.path,
                    outcome="refused",
                    detail=why,
                )
            return _refuse(status, why, nonce)

        if posted and request.headers.get("origin", "") != desk.origin(request):
            return refused(403, "This form was not posted from the desk itself.")
        if route.permission != PUBLIC and session is None:
            if posted:
                return _refuse(401, "Log in first.", nonce)
            return _headers(
                RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303), nonce
            )
        if posted and route.permission != PUBLIC:
            assert session is not None
            given = form.get("csrf_token") or request.headers.get("x-csrf-token", "")
            if not secrets.compare_digest(given, session.csrf):
                return refused(
                    403, "The form's token is missing or old: reload the page and try again."
                )
        if route.permission not in (PUBLIC, SIGNED_IN):
            assert session is not None
            if not allows(session.role, route.permission):
                return refused(
                    403, f"Your role ({session.role}) may not do this ({route.permission})."
                )
        call = Call(
            desk, db, session, form, dict(request.query_params), dict(request.path_params),
            client, nonce, request.url.scheme, body, desk.origin(request),
            request.url.hostname or "",
        )  # fmt: skip
        response = route.handler(call)
        return _headers(response, nonce)


def _back(to: str, said: str = "", error: str = "") -> Response:
    params = {k: v for k, v in (("said", said), ("error", error)) if v}
    return RedirectResponse(to + ("?" + urlencode(params) if params else ""), 303)


def _set_cookie(response: Response, request_scheme: str, token: str, max_age: int) -> None:
    secure = request_scheme == "https"
    response.set_cookie(
        "__Host-desk" if secure else "desk",
        token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


# ---------------------------------------------------------------- logging in


@page("/login", PUBLIC)
def login_page(call: Call) -> Response:
    return call.page("desk_login.html.j2", next=call.query.get("next", "/"), error="")


@page("/login", PUBLIC, ("POST",))
def login(call: Call) -> Response:
    config, now = call.desk.config, call.desk.now()
    try:
        account = accounts.log_in(
            config, call.db, call.form.get("email", ""), call.form.get("password", ""),
            call.form.get("code", ""), call.client, now,
        )  # fmt: skip
    except LoginRefused as e:
        return call.page("desk_login.html.j2", 401, next="/", error=str(e))
    token, _ = accounts.open_session(call.db, account.email, now)
    wanted = call.form.get("next", "/")
    local = wanted.startswith("/") and not wanted.startswith(("//", "/\\"))
    response = RedirectResponse(wanted if local else "/", 303)
    _set_cookie(response, call.scheme, token, config.desk.max_hours * 3600)
    return response


@page("/logout", SIGNED_IN, ("POST",))
def logout(call: Call) -> Response:
    assert call.session is not None
    everywhere = call.form.get("everywhere") == "1"
    accounts.log_out(call.db, call.session, call.desk.now(), everywhere=everywhere)
    return RedirectResponse("/login", 303)


@page("/login/passkey-options", PUBLIC, ("POST",))
def passkey_login_options(call: Call) -> Response:
    from digest.staff import passkeys

    return Response(
        passkeys.login_options(call.db, call.rp_id, call.desk.now()),
        media_type="application/json",
    )


@page("/login/passkey", PUBLIC, ("POST",))
def passkey_login(call: Call) -> Response:
    from digest.staff import passkeys

    config, now = call.desk.config, call.desk.now()
    try:
        account = passkeys.log_in(
            config, call.db, call.raw, call.rp_id, call.origin, call.client, now
        )
    except LoginRefused as e:
        return JSONResponse({"error": str(e)}, 401)
    token, _ = accounts.open_session(call.db, account.email, now)
    response = JSONResponse({"to": "/"})
    _set_cookie(response, call.scheme, token, config.desk.max_hours * 3600)
    return response


@page("/passkeys", SIGNED_IN)
def passkeys_page(call: Call) -> Response:
    assert call.session is not None
    return call.page(
        "desk_passkeys.html.j2", keys=store_staff.passkeys_of(call.db, call.session.email)
    )


@page("/passkeys/options", SIGNED_IN, ("POST",))
def passkey_options(call: Call) -> Response:
    from digest.staff import passkeys

    assert call.session is not None
    text = passkeys.registration_options(
        call.desk.config, call.db, call.session.email, call.rp_id, call.desk.now()
    )
    return Response(text, media_type="application/json")


@page("/passkeys/add", SIGNED_IN, ("POST",))
def passkey_add(call: Call) -> Response:
    from digest.staff import passkeys

    try:
        passkeys.register(call.db, call.actor, call.raw, call.rp_id, call.origin, call.desk.now())
    except DigestError as e:
        return JSONResponse({"error": str(e)}, 400)
    return JSONResponse({"said": "Passkey added: log in with it next time."})


@page("/set-password/{token}", PUBLIC)
def set_password_page(call: Call) -> Response:
    email = accounts.link_account(call.db, call.path_params["token"], call.desk.now())
    return call.page("desk_set_password.html.j2", email=email, error="", totp_uri="")


@page("/set-password/{token}", PUBLIC, ("POST",))
def set_password(call: Call) -> Response:
    token = call.path_params["token"]
    email = accounts.link_account(call.db, token, call.desk.now())
    try:
        _, uri = accounts.set_password(
            call.desk.config, call.db, token, call.form.get("password", ""), call.desk.now()
        )
    except DigestError as e:
        return call.page("desk_set_password.html.j2", 400, email=email, error=str(e), totp_uri="")
    return call.page("desk_set_password.html.j2", email="", error="", totp_uri=uri or "-")


# ---------------------------------------------------------------- the edition


def _said(call: Call) -> dict[str, Any]:
    return {"said": call.query.get("said", ""), "error": call.query.get("error", "")}


@page("/", "status.view")
def home(call: Call) -> Response:
    from digest.delivery.sending import edition_status
    from digest.readers.notices import queue_status

    editions = edition_status(call.db)
    left = store_staff.unsubscribes_by_edition(call.db)
    for e in editions:
        e["unsubscribed"] = left.get(int(e["edition"]), 0)
    return call.page(
        "desk_home.html.j2",
        editions=editions,
        queued=queue_status(call.db),
        sending=any(e["status"] == "frozen" and e.get("pending", 0) for e in editions),
        **_said(call),
    )


def _week(call: Call) -> Any:
    from digest.content.edition import coming_week

    return coming_week(call.desk.config, call.db, call.query.get("week") or None, call.desk.now())


@page("/edition", "editions.view")
def edition(call: Call) -> Response:
    from digest.content.edition import list_articles

    config, now = call.desk.config, call.desk.now()
    week = _week(call)
    ranked = list_articles(config, call.db, week)
    note_markdown, _ = _note_markdown(call.db, week.label)
    fingerprint = acts.edition_digest(config, call.db, week.label, now)
    held = store.approval(call.db, week.label)
    tests = [
        r
        for r in entries(call.db)
        if r["action"] == "edition.test" and r["target"] == week.label and r["outcome"] == "done"
    ]
    tested = (
        "none"
        if not tests
        else ("same" if tests[-1]["before_hash"] == state_hash(fingerprint) else "older")
    )
    return call.page(
        "desk_edition.html.j2",
        week=week.label,
        articles=ranked[:20],
        note=note_markdown,
        digest=fingerprint,
        held=held,
        tested=tested,
        reader=call.query.get("subscriber", "") if call.can("preview.any") else "",
        copy_query=urlencode(
            {"week": week.label, "subscriber": call.query.get("subscriber", "")}
            if call.can("preview.any")
            else {"week": week.label}
        ),
        **_said(call),
    )


def _note_markdown(db: Database, week: str) -> tuple[str, str]:
    found = store.get_note(db, week)
    return (str(found), "") if found else ("", "")


@page("/edition/copy", "editions.view")
def edition_copy(call: Call) -> Response:
    """The copy's HTML as `send` builds it, in a sandbox (its own inline styles only)."""
    from digest.delivery.preview import preview_for

    week = _week(call)
    reader = call.query.get("subscriber", "") if call.can("preview.any") else ""
    if reader:  # a reader's own copy shows their address: a lookup, on the record
        record(
            call.db,
            call.desk.now(),
            call.actor,
            "reader.copy",
            reader,
            kind="reader",
            detail=week.label,
        )
    try:
        found = preview_for(call.desk.config, call.db, week, reader or None, call.desk.now())
    except DigestError as e:
        return HTMLResponse(f"<p>{escape(str(e))}</p>", 404)
    body = found.html if found else f"<p>No published articles in {week.label}.</p>"
    response = HTMLResponse(body)
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@page("/lint", "lint.view")
def lint(call: Call) -> Response:
    from digest.lint.edition import lint_edition

    week = _week(call)
    report = lint_edition(call.desk.config, call.db, week, call.desk.now())
    findings = report.findings if report else []
    return call.page("desk_lint.html.j2", week=week.label, findings=findings)


@page("/note/preview", "note.write", ("POST",))
def note_preview(call: Call) -> Response:
    """The note as the edition will show it (safe Markdown), for the page's live preview."""
    from digest.content.notes import render_note

    html, _ = render_note(call.form.get("note", "")[:20_000])
    return HTMLResponse(html)


@page("/note", "note.write", ("POST",))
def note(call: Call) -> Response:
    config, now = call.desk.config, call.desk.now()
    week = call.form.get("week") or None
    try:
        if call.form.get("clear") == "1":
            label, _ = acts.clear_note(config, call.db, call.actor, week, now)
        else:
            label, _, _ = acts.set_note(
                config, call.db, call.actor, week, now, text=call.form.get("note", "")
            )
    except DigestError as e:
        return _back("/edition", error=str(e))
    return _back("/edition", said=f"{label}: note saved")


@page("/lead", "lead.write", ("POST",))
def lead(call: Call) -> Response:
    config, now = call.desk.config, call.desk.now()
    feature = call.form.get("choice") != "unfeature"
    try:
        done = acts.pick_lead(
            config,
            call.db,
            call.actor,
            call.form.get("url", ""),
            call.form.get("week") or None,
            now,
            lead=feature,
        )
    except DigestError as e:
        return _back("/edition", error=str(e))
    return _back("/edition", said=f"{done.week}: the lead is now {done.lead}")


@page("/test", "test.send", ("POST",))
def test_send(call: Call) -> Response:
    assert call.session is not None
    config = call.desk.config
    to = call.form.get("to", "").strip() or call.session.email
    if to != call.session.email and not call.can("edition.send"):
        return _back("/edition", error="An editor sends test copies to their own address.")
    try:
        report = acts.send_test(
            config, call.db, call.actor, call.form.get("week") or None, [to], call.desk.now
        )
    except DigestError as e:
        return _back("/edition", error=str(e))
    if report is None:
        return _back("/edition", error="No published articles: nothing to test.")
    if report.failed:
        return _back(
            "/edition", error="Not delivered: " + "; ".join(f"{e} ({r})" for e, r in report.failed)
        )
    return _back("/edition", said=f"Test copy of {report.week} sent to {', '.join(report.sent)}")


@page("/hold", "edition.hold", ("POST",))
def hold(call: Call) -> Response:
    week = call.form.get("week") or None
    try:
        label, held = acts.hold(call.desk.config, call.db, call.actor, week, call.desk.now())
    except DigestError as e:
        return _back("/edition", error=str(e))
    return _back("/edition", said=f"{label}: {'held for approval' if held else 'was held already'}")


@page("/approve", "edition.approve", ("POST",))
def approve(call: Call) -> Response:
    seen = call.form.get("digest", "")
    if not seen:
        return _back(
            "/edition", error="Approve from the edition's page: it shows what you approve."
        )
    try:
        label, report = acts.approve(
            call.desk.config,
            call.db,
            call.actor,
            call.form.get("week") or None,
            call.desk.now,
            seen=seen,
        )
    except DigestError as e:
        return _back("/edition", error=str(e))
    sent = report.count("sent") if report else 0
    return _back("/", said=f"{label} approved ({seen[:12]}): {sent} sent")


# ---------------------------------------------------------------- readers, feeds, log


@page("/readers", "readers.view")
def readers(call: Call) -> Response:
    email = call.query.get("email", "").strip()
    found = acts.look_up_reader(call.db, call.actor, email, call.desk.now()) if email else None
    return call.page("desk_readers.html.j2", email=email, found=found, **_said(call))


@page("/readers/act", "readers.write", ("POST",))
def reader_act(call: Call) -> Response:
    config, now = call.desk.config, call.desk.now()
    email, what = call.form.get("email", ""), call.form.get("act", "")
    try:
        if what == "reactivate":
            acts.reactivate_reader(call.db, call.actor, email, now)
        elif what == "forget":
            acts.remove_reader(call.db, config, call.actor, email, now, forget=True)
        elif what == "remove":
            acts.remove_reader(call.db, config, call.actor, email, now, forget=False)
        else:
            return _back("/readers", error=f"{what!r} is not something the desk does to a reader.")
    except DigestError as e:
        return _back("/readers", error=str(e))
    return RedirectResponse(
        "/readers?" + urlencode({"email": email, "said": f"{email}: {what} done"}), 303
    )


@page("/feeds", "feeds.view")
def feeds(call: Call) -> Response:
    return call.page("desk_feeds.html.j2", feeds=store.list_feeds(call.db), **_said(call))


@page("/feeds/add", "feeds.manage", ("POST",))
def feeds_add(call: Call) -> Response:
    try:
        address, outcome = acts.add_feed(
            call.db,
            call.actor,
            call.form.get("url", ""),
            call.form.get("topic", ""),
            call.desk.now(),
        )
    except DigestError as e:
        return _back("/feeds", error=str(e))
    return _back("/feeds", said=f"{address}: {outcome}")


@page("/feeds/remove", "feeds.manage", ("POST",))
def feeds_remove(call: Call) -> Response:
    try:
        address = acts.remove_feed(call.db, call.actor, call.form.get("url", ""), call.desk.now())
    except DigestError as e:
        return _back("/feeds", error=str(e))
    return _back("/feeds", said=f"{address}: removed")


@page("/returns", "returns.view")
def returns(call: Call) -> Response:
    """What came back and what it did (process-mail, the webhooks, the leave links),
    readers' addresses masked unless the role may look readers up."""
    found = store_staff.returns_log(call.db, 500)
    if not call.can("readers.view"):
        for row in found:
            row["email"] = mask_address(str(row["email"]))
    return call.page("desk_returns.html.j2", rows=found)


@page("/audit", "audit.view")
def audit(call: Call) -> Response:
    rows = entries(call.db, masked=not call.can("readers.view"))
    return call.page("desk_audit.html.j2", rows=list(reversed(rows))[:500])


@page("/staff", "staff.manage")
def staff(call: Call) -> Response:
    return call.page(
        "desk_staff.html.j2", staff=accounts.staff_list(call.db), link="", linked="", **_said(call)
    )


@page("/staff/add", "staff.manage", ("POST",))
def staff_add(call: Call) -> Response:
    """`staff add` without a password: the page shows the one-time link to pass on."""
    config, now = call.desk.config, call.desk.now()
    try:
        added = accounts.add_staff(
            config,
            call.db,
            call.actor,
            call.form.get("email", ""),
            call.form.get("role", ""),
            "",
            now,
        )
        link = accounts.reset_link(config, call.db, call.actor, added.email, now)
    except DigestError as e:
        return _back("/staff", error=str(e))
    return call.page(
        "desk_staff.html.j2",
        staff=accounts.staff_list(call.db),
        link=link,
        linked=added.email,
        said=f"{added.email}: added as {added.role}",
        error="",
    )


@page("/staff/reset", "staff.manage", ("POST",))
def staff_reset(call: Call) -> Response:
    email = call.form.get("email", "")
    try:
        link = accounts.reset_link(call.desk.config, call.db, call.actor, email, call.desk.now())
    except DigestError as e:
        return _back("/staff", error=str(e))
    return call.page(
        "desk_staff.html.j2",
        staff=accounts.staff_list(call.db),
        link=link,
        linked=email,
        said=f"{email}: password and sessions ended",
        error="",
    )


@page("/staff/remove", "staff.manage", ("POST",))
def staff_remove(call: Call) -> Response:
    email = call.form.get("email", "")
    try:
        accounts.remove_staff(call.db, call.actor, email, call.desk.now())
    except DigestError as e:
        return _back("/staff", error=str(e))
    return _back("/staff", said=f"{email}: removed")


@page("/staff/role", "staff.manage", ("POST",))
def staff_role(call: Call) -> Response:
    email, role = call.form.get("email", ""), call.form.get("role", "")
    try:
        accounts.set_role(call.desk.config, call.db, call.actor, email, role, call.desk.now())
    except DigestError as e:
        return _back("/staff", error=str(e))
    return _back("/staff", said=f"{email}: now {role}")


__all__ = ["PUBLIC", "ROUTES", "DeskRoute", "create_desk_app", "mask_address"]
