"""The desk as people use it, in Debian's Chromium (Playwright): an admin logs in with
a password and a TOTP code, an editor writes the note by keyboard alone, and axe-core
finds nothing serious on any desk page, light and dark."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from digest import store
from digest.staff import accounts
from digest.staff.audit import Actor, entries
from digest.store import staff as rows
from digest.web import desk
from digest.web.desk import PUBLIC, create_desk_app

from ..conftest import (
    ARTIFACTS,
    AXE,
    CHROMIUM,
    CHROMIUM_FLAGS,
    NOW,
    make_config,
    needs_axe,
    needs_chromium,
    running,
)
from ..fixtures import load_week

pytestmark = [needs_chromium, pytest.mark.slow]
PASSWORD = "correct horse battery staple"
OPERATOR = Actor("cli:test", "operator")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    config = make_config(tmp_path)
    with store.open_store(config.store_path) as db:
        load_week(config, db, NOW)
        for role in ("admin", "editor", "viewer"):
            accounts.add_staff(
                config, db, OPERATOR, f"{role}@staff.example.com", role, PASSWORD, NOW
            )
    with running(create_desk_app(config, clock=lambda: NOW)) as port:
        yield f"http://127.0.0.1:{port}", config


def _log_in(page: Page, url: str, email: str, code: str = "") -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if code:
        page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_load_state()


def test_an_admin_logs_in_with_password_and_totp(browser: Browser, site: tuple[str, Any]) -> None:
    url, config = site
    page = browser.new_page()
    _log_in(page, url, "admin@staff.example.com")  # no code: refused
    assert "do not match an account" in page.content()
    with store.open_store(config.store_path) as db:
        secret = rows.get_staff(db, "admin@staff.example.com").totp_secret  # type: ignore[union-attr]
    _log_in(page, url, "admin@staff.example.com", pyotp.TOTP(secret).at(NOW))
    assert page.url == f"{url}/" and page.get_by_role("heading", name="Status").is_visible()
    assert "admin@staff.example.com (admin)" in page.content()
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("desk", True, "Strict")
    ]
    page.get_by_role("button", name="Log out everywhere").click()
    page.wait_for_load_state()
    page.goto(f"{url}/staff")
    assert page.url.startswith(f"{url}/login")
    page.close()


def test_an_editor_writes_the_note_by_keyboard_alone(
    browser: Browser, site: tuple[str, Any]
) -> None:
    url, config = site
    page = browser.new_page()
    _log_in(page, url, "editor@staff.example.com")
    page.goto(f"{url}/edition")
    for _ in range(80):  # Tab through the page to the note, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "note":
            break
    assert page.evaluate("document.activeElement.id") == "note"
    page.keyboard.type("Typed at the *desk*.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Save the note"
    page.keyboard.press("Enter")
    page.get_by_role("status").wait_for()
    assert "note saved" in page.get_by_role("status").inner_text()
    with store.open_store(config.store_path) as db:
        last = entries(db)[-1]
        assert (last["action"], last["actor"]) == ("note.set", "editor@staff.example.com")
        assert store.get_note(db, str(last["target"])) == "Typed at the *desk*."
    page.close()


@needs_axe
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_any_desk_page(
    browser: Browser, site: tuple[str, Any], scheme: str
) -> None:
    url, config = site
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)  # lets axe in
    page = context.new_page()
    with store.open_store(config.store_path) as db:
        secret = rows.get_staff(db, "admin@staff.example.com").totp_secret  # type: ignore[union-attr]
    pages = ["/login"]
    _log_in(page, url, "admin@staff.example.com", pyotp.TOTP(secret).at(NOW))
    pages += [
        r.path
        for r in desk.ROUTES
        if "GET" in r.methods and r.permission != PUBLIC and "{" not in r.path
    ]
    audited = 0
    ARTIFACTS.mkdir(exist_ok=True)
    for path in pages:
        page.goto(url + path + ("?email=ann%40example.com" if path == "/readers" else ""))
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], (path, scheme, serious)
        name = path.strip("/").replace("/", "-") or "home"
        page.screenshot(path=str(ARTIFACTS / f"desk-{name}-{scheme}.png"), full_page=True)
        audited += 1
    assert audited >= 9
    context.close()


def test_an_editor_adds_a_passkey_and_logs_in_with_it_alone(
    browser: Browser, site: tuple[str, Any]
) -> None:
    url, config = site
    local = url.replace("127.0.0.1", "localhost")  # a WebAuthn RP ID is a name, never an IP
    context = browser.new_context()
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    _log_in(page, local, "editor@staff.example.com")
    page.goto(f"{local}/passkeys")
    page.keyboard.press("Tab")
    for _ in range(40):  # by keyboard to the button
        if page.evaluate("document.activeElement.id") == "add-passkey":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    said = page.locator("#passkey-said")
    said.filter(has_text="Passkey added").wait_for()
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url(f"{local}/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    page.wait_for_url(f"{local}/")
    assert "editor@staff.example.com (editor)" in page.content()
    with store.open_store(config.store_path) as db:
        logged = [(r["action"], r["detail"]) for r in entries(db)]
        assert ("passkey.add", "") in logged
        assert logged[-1][0] == "login" and logged[-1][1].startswith("passkey from")
        assert len(rows.passkeys_of(db, "editor@staff.example.com")) == 1
    context.close()
