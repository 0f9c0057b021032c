"""Shared fixtures: a real SQLite store in tmp_path, a config, an article factory, SMTP."""

from __future__ import annotations

import asyncio
import email
import os
import shutil
import socket
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from click.testing import CliRunner, Result

from digest import store
from digest.config import Config, build_config
from digest.models import Article
from digest.resources import default_config_text

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday; last full week is 2026-W47
SECRET = "test-secret-for-signing-links-0123456789"

# A user's clone has no ../shared and maybe no Chromium: those tests skip with a reason.
# CI has both and must run every test, so there (CI set) nothing skips: a missing part fails.
_IN_CI = bool(os.environ.get("CI"))
needs_testdata = pytest.mark.skipif(
    not TESTDATA.is_dir() and not _IN_CI,
    reason="needs ../shared/testdata beside the checkout (the shared test corpus)",
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not _IN_CI,
    reason="needs Chromium: apt-get install chromium (Debian's package)",
)

ARTIFACTS = REPO / "test-artifacts"  # screenshots the browser tests keep, for a person
# What Chromium needs on this closed network (no background connections, no sandbox as root).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = REPO / "tests" / ".node" / "node_modules" / "axe-core" / "axe.min.js"
needs_axe = pytest.mark.skipif(
    not AXE.exists() and not _IN_CI,
    reason="needs axe-core: npm install --no-save --prefix tests/.node axe-core@4.11",
)


def axe_audit(browser: Any, html: str, width: int, scheme: str, name: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on ``html`` drawn at ``width`` in the
    ``scheme`` (light, dark); the screenshot is kept in test-artifacts/ as ``name``."""
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page.set_content(html, wait_until="domcontentloaded")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}-{width}.png"), full_page=True)
    page.close()
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-at",
        default="",
        metavar="TIME",
        help="run every test with this process's wall clock moved to TIME (ISO 8601, UTC), "
        "ticking from there (time-machine): no test may depend on the date",
    )


def pytest_configure(config: pytest.Config) -> None:
    """With --clock-at, the wall clock (time.time, datetime.now, ...) starts at that time
    in this process and every xdist worker; the monotonic clock that timeouts wait on is
    left alone. Child processes get the suite's clock as DIGEST_NOW instead."""
    at = config.getoption("--clock-at")
    if at:
        import time_machine

        moved = datetime.fromisoformat(at)
        traveller = time_machine.travel(moved if moved.tzinfo else moved.replace(tzinfo=UTC))
        traveller.start()
        config.stash[_TRAVELLER] = traveller


_TRAVELLER = pytest.StashKey[Any]()


class ClockedRunner(CliRunner):
    """A CliRunner whose commands read the suite's clock (``NOW``, or the ``now`` given),
    never the machine's: the CLI takes a clock handed in as ``obj``."""

    def __init__(self, now: datetime = NOW, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now

    def invoke(self, *args: Any, **kwargs: Any) -> Result:  # type: ignore[override]
        kwargs.setdefault("obj", lambda: self.now)
        return super().invoke(*args, **kwargs)


# The sections of the shipped configuration: the topics of the tests' week.
SECTIONS = tuple(tomllib.loads(default_config_text())["digest"]["section_order"])


def make_config(tmp_path: Path, env: dict[str, str] | None = None, **sections: Any) -> Config:
    """A validated Config whose file lives in tmp_path; sections override the defaults."""
    raw: dict[str, Any] = {
        "newsletter": {
            "name": "The Weekly Wrap",
            "from": "The Weekly Wrap <wrap@news.example.com>",
            "base_url": "https://news.example.com/digest",
            "timezone": "America/Vancouver",
            "postal_address": "100 Example Street, Vancouver",
        },
        "store": {"path": "digest.db"},
        "outbox": {"path": "outbox"},
        "archive": {"path": "archive"},
        "templates": {"path": str(REPO / "templates" / "email")},
        "digest": {"section_order": list(SECTIONS)},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    environ = {"DIGEST_SECRET": SECRET} if env is None else env
    return build_config(tmp_path / "digest.toml", raw, environ)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def db(config: Config) -> Iterator[Any]:
    database = store.open_store(config.store_path)
    yield database
    database.close()


@pytest.fixture
def make_article() -> Callable[..., Article]:
    counter = iter(range(1, 10_000))

    def factory(**overrides: Any) -> Article:
        n = next(counter)
        values: dict[str, Any] = {
            "id": 0,
            "url": f"https://news.example.com/a/{n}",
            "title": f"Article {n}",
            "published_at": datetime(2026, 11, 18, 12, 0, tzinfo=UTC),
            "body": f"<p>Body of article {n}. It has two sentences.</p>",
            "author": "Ann Author",
            "topics": ("DNS",),
        }
        values.update(overrides)
        return Article(**values)

    return factory


@dataclass
class Received:
    """A message the test SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data)


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps every message; ``refuse`` answers chosen RCPTs."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.received.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                bytes(envelope.original_content or b""),
            )
        )
        return "250 Message accepted"


@dataclass
class SenderBlockingRelay(RecordingHandler):
    """A relay that refuses the envelope sender for everyone (a blocked account) while
    ``blocked``; ``mails`` counts the MAIL commands it was given."""

    blocked: bool = True
    mails: int = 0

    async def handle_MAIL(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        self.mails += 1
        if self.blocked:
            return "550 5.7.1 Sender blocked: this account may not send"
        envelope.mail_from = address
        return "250 OK"


class LocalController(Controller):
    """aiosmtpd on 127.0.0.1, on the port the kernel gives it as it binds (no port is
    picked first and bound later, which another process could take in between)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, RecordingHandler]]:
    handler = RecordingHandler()
    controller = LocalController(handler)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, read from /proc (no pgrep needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def free_port() -> int:
    """A port nothing listens on now: only for "nobody is there", or for a daemon that
    must be told its port (a server of ours binds its own socket instead)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bound_socket(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port``, else one the kernel picks)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@contextmanager
def running(app: Any, sock: socket.socket | None = None) -> Iterator[int]:
    """Serve an ASGI app with a real uvicorn on 127.0.0.1, on a socket bound before it
    starts (``sock``, else one on a port the kernel picks); yields its port."""
    import threading
    import time

    import uvicorn

    sock = sock or bound_socket()
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs a browser, axe-core, SpamAssassin or a Dovecot of its own is a
    system test: it is `slow` too, so `pytest -m "not slow"` leaves it for CI."""
    system = ("needs Chromium", "needs axe-core", "needs SpamAssassin", "needs Dovecot")
    for item in items:
        reasons = [str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")]
        if any(r.startswith(system) for r in reasons):
            item.add_marker(pytest.mark.slow)


# The providers' local APIs (tests/providers.py), fixtures for every test file.
from .providers import mailgun_api, moto  # noqa: E402, F401
