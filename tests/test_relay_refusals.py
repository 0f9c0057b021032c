"""What a relay says never takes a reader off the list by mistake: a real aiosmtpd relay
on 127.0.0.1 gives each refusal, stalls, or hangs up, and the ledger and the list are
checked after the run and after the resume."""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from digest import store
from digest.cli import cli
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import DeliveryError
from digest.readers.subscribers import save_subscriber

from .conftest import NOW, SECRET, ClockedRunner, LocalController, RecordingHandler, make_config
from .fixtures import load_week


@dataclass
class Relay(RecordingHandler):
    """Answers MAIL, RCPT or the end of DATA as told, or never, or hangs up after DATA."""

    mail: str = ""  # a reply to every MAIL ("" = accept)
    rcpt: str = ""  # a reply to every RCPT
    dot: str = ""  # a reply to every end of DATA
    stall: bool = False  # never answer MAIL
    hang_up_after_data: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    mails: int = 0

    async def handle_MAIL(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.mails += 1
        if self.stall:
            await self.release.wait()
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        return self.rcpt or await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.hang_up_after_data:
            server.transport.close()
            return "421 gone"
        if self.dot:
            return self.dot
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def relay() -> Any:
    handler = Relay()
    controller = LocalController(handler)
    controller.start()
    yield controller, handler
    controller.loop.call_soon_threadsafe(handler.release.set)  # let stalled sessions end
    controller.stop()


READERS = 40  # 6 demo readers and 34 more


def _setup(tmp_path: Path, port: int, **smtp: Any) -> tuple[Any, Any]:
    settings = {"host": "127.0.0.1", "port": port, "tls": "none", "concurrency": 2}
    settings.update({"timeout": 5, "retries": 1, **smtp})
    config = make_config(tmp_path, smtp=settings)
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with db.atomic():
        for i in range(READERS - 6):
            save_subscriber(db, f"reader{i:03d}@example.org", "", [], NOW)
    return config, db


def _send(config: Any, db: Any) -> Any:
    return send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)


def _nobody_left(db: Any) -> None:
    assert Counter(s.status for s in store.iter_subscribers(db)) == {"active": READERS}


def _resume_delivers_everyone_once(config: Any, db: Any, handler: Relay) -> None:
    handler.mail = handler.rcpt = handler.dot = ""
    handler.stall = handler.hang_up_after_data = False
    report = _send(config, db)
    assert report is not None and report.count("sent") == READERS and not report.problem
    recipients = Counter(r.rcpt_tos[0] for r in handler.received)
    assert len(recipients) == READERS and set(recipients.values()) == {1}


def test_relay_access_denied_bounces_nobody_and_stops_quoting_the_relay(
    tmp_path: Path, relay: Any
) -> None:
    controller, handler = relay
    handler.rcpt = "554 5.7.1 <reader@example.org>: Relay access denied"
    config, db = _setup(tmp_path, controller.port)
    with pytest.raises(DeliveryError) as stopped:
        _send(config, db)
    said = str(stopped.value)
    assert "refused 5 messages in a row" in said and "Relay access denied" in said
    assert "mynetworks" in said and "send --resume" in said and "not delivered yet" in said
    _nobody_left(db)
    edition = store.get_edition(db, "2026-W47")
    assert edition is not None
    counts = store.delivery_counts(db, edition.id)
    assert 5 <= counts["failed"] <= 5 + 2 and "bounced" not in counts  # 2: in flight
    _resume_delivers_everyone_once(config, db, handler)


@pytest.mark.parametrize(
    "reply",
    [
        "554 5.7.1 Message rejected: content",
        "552 5.3.4 Message size exceeds fixed limit",
        "500 Line too long",
        "550 5.1.1 User unknown",  # after DATA this is about the message, not the reader
    ],
)
def test_a_refusal_after_data_bounces_nobody(tmp_path: Path, relay: Any, reply: str) -> None:
    controller, handler = relay
    handler.dot = reply
    config, db = _setup(tmp_path, controller.port)
    with pytest.raises(DeliveryError, match="in a row"):
        _send(config, db)
    _nobody_left(db)
    _resume_delivers_everyone_once(config, db, handler)


def test_a_relay_that_greets_and_never_answers_is_set_aside_within_its_timeouts(
    tmp_path: Path, relay: Any
) -> None:
    controller, handler = relay
    handler.stall = True
    config, db = _setup(tmp_path, controller.port, timeout=0.3)
    with pytest.raises(DeliveryError, match="stopped answering"):
        _send(config, db)
    _nobody_left(db)
    # one round of connections (concurrency 2), not one per reader: the relay that
    # gave no reply in a whole timeout is not tried again, and the run stops
    assert handler.mails <= 2
    controller.loop.call_soon_threadsafe(handler.release.set)
    _resume_delivers_everyone_once(config, db, handler)


@pytest.mark.parametrize(
    "fault", ["421 at MAIL", "hang up after DATA"], ids=["421-at-mail", "hang-up-after-data"]
)
def test_a_relay_that_delivers_nothing_stops_the_run(
    tmp_path: Path, relay: Any, fault: str
) -> None:
    controller, handler = relay
    if fault == "421 at MAIL":
        handler.mail = "421 4.7.0 Too busy, closing"
    else:
        handler.hang_up_after_data = True
    config, db = _setup(tmp_path, controller.port)
    with pytest.raises(DeliveryError, match="stopped answering"):
        _send(config, db)
    _nobody_left(db)
    _resume_delivers_everyone_once(config, db, handler)


def test_send_exits_1_with_what_is_left_and_why(tmp_path: Path, relay: Any) -> None:
    controller, handler = relay
    handler.rcpt = "554 5.7.1 Relay access denied"
    config, _ = _setup(tmp_path, controller.port)
    env = {"DIGEST_SECRET": SECRET, "DIGEST_CONFIG": str(config.path)}
    config.path.write_text(
        "[newsletter]\n"
        'name = "The Weekly Wrap"\nfrom = "wrap@news.example.com"\n'
        'postal_address = "100 Example Street"\ntimezone = "America/Vancouver"\n'
        '[store]\npath = "digest.db"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\ntls = "none"\n'
        "concurrency = 1\nretries = 0\n"
    )
    result = ClockedRunner().invoke(cli, ["send", "--week", "2026-W47", "--workers", "1"], env=env)
    assert result.exit_code == 1
    assert "Relay access denied" in result.stderr and "not delivered yet" in result.stderr
