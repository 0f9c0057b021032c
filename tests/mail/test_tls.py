"""STARTTLS, implicit TLS and login against a real aiosmtpd on 127.0.0.1."""

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from digest import store
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import DeliveryError

from ..conftest import NOW, LocalController, RecordingHandler, make_config
from ..fixtures import load_week


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A test CA's bundle for the client, and a server context with a cert it signed."""
    authority = trustme.CA()
    bundle = tmp_path_factory.mktemp("tls") / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return bundle, context


def _authenticator(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"digest",
        b"s3cret",
    )
    return AuthResult(success=ok)


def _relay(handler: RecordingHandler, context: ssl.SSLContext, **auth: Any) -> Controller:
    """A started aiosmtpd on 127.0.0.1 that requires STARTTLS and a login."""
    controller = LocalController(
        handler,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        **auth,
    )
    controller.start()
    return controller


@pytest.fixture
def tls_server(certificate: tuple[Path, ssl.SSLContext]) -> Iterator[tuple[int, RecordingHandler]]:
    handler = RecordingHandler()
    controller = _relay(
        handler, certificate[1], authenticator=_authenticator, auth_exclude_mechanism=["LOGIN"]
    )
    yield controller.port, handler
    controller.stop()


def _config(tmp_path: Path, port: int, cert: Path, **smtp: Any) -> Any:
    values = {
        "host": "localhost",
        "port": port,
        "tls": "starttls",
        "username": "digest",
        "ca_file": str(cert),
        "timeout": 10,
        "retries": 0,
    }
    values.update(smtp)
    return make_config(
        tmp_path, env={"DIGEST_SECRET": "s" * 32, "DIGEST_SMTP_PASSWORD": "s3cret"}, smtp=values
    )


def test_starttls_and_login(tmp_path: Path, tls_server: Any, certificate: Any) -> None:
    port, handler = tls_server
    config = _config(tmp_path, port, certificate[0])
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6
    assert len(handler.received) == 6


class RefusingLogin(RecordingHandler):
    """A relay that answers every AUTH with 535, as one does for a wrong password."""

    async def handle_AUTH(
        self, server: SMTPServer, session: Session, envelope: Envelope, args: list[str]
    ) -> str:
        return "535 5.7.8 Authentication credentials invalid"


def test_a_refused_login_stops_the_run_and_bounces_nobody(
    tmp_path: Path, certificate: tuple[Path, ssl.SSLContext]
) -> None:
    handler = RefusingLogin()
    controller = _relay(handler, certificate[1])
    try:
        config = _config(tmp_path, controller.port, certificate[0])
        db = store.open_store(config.store_path)
        load_week(config, db, NOW)
        with pytest.raises(
            DeliveryError, match=r"refused the login for 'digest'.*DIGEST_SMTP_PASSWORD"
        ):
            send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    finally:
        controller.stop()
    assert handler.received == [] and list(store.iter_subscribers(db, "bounced")) == []


# The server's half of the refused handshake can fail inside aiosmtpd's own thread; that
# is the expected failure, seen from the other side, not a fault of the code under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_untrusted_certificate_is_refused(tmp_path: Path, tls_server: Any) -> None:
    port, handler = tls_server
    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": "s" * 32, "DIGEST_SMTP_PASSWORD": "s3cret"},
        smtp={
            "host": "localhost",
            "port": port,
            "tls": "starttls",
            "username": "digest",
            "retries": 0,
            "concurrency": 1,
        },
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(DeliveryError, match="cannot connect to localhost"):
        send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert handler.received == []
