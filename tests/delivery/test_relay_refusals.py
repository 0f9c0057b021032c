"""What a relay says never takes a reader off the list by mistake: a real aiosmtpd relay
on 127.0.0.1 gives each refusal, stalls, or hangs up, and the ledger and the list are
checked after the run and after the resume."""

import asyncio
import json
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
from digest.hooks.endpoints import add_endpoint
from digest.readers.subscribers import save_subscriber

from ..conftest import NOW, SECRET, ClockedRunner, LocalController, RecordingHandler, make_config
from ..fixtures import load_week


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
    add_endpoint(db, config, "https://crm.example.com/hooks", ["delivery.stopped"], NOW)
    with pytest.raises(DeliveryError) as stopped:
        _send(config, db)
    said = str(stopped.value)
    assert "refused 5 messages in a row" in said and "Relay access denied" in said
    (event,) = [
        json.loads(r[0])
        for r in db.execute("SELECT body FROM hook_events").fetchall()
        if json.loads(r[0])["type"] == "delivery.stopped"
    ]
    assert event["data"]["week"] == "2026-W47" and event["data"]["left"] > 0
    assert "Relay access denied" in event["data"]["reason"]
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


@pytest.mark.slow
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
@pytest.mark.slow
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


# ---------------------------------------------------------------- the circuit breaker

POSTFIX_UNKNOWN = (
    "550 5.1.1 <{}>: Recipient address rejected: User unknown in local recipient table"
)


def _readers(db: Any) -> list[str]:
    """Every reader's address, in the order a send takes them (by id)."""
    return [s.email for s in sorted(store.iter_subscribers(db), key=lambda s: s.id)]


def test_a_relay_refusing_every_recipient_as_unknown_bounces_nobody_and_says_what_to_check(
    tmp_path: Path, relay: Any
) -> None:
    """A Postfix relay whose relay_domains / local_recipient_maps leave the readers'
    domains out answers 5.1.1 "User unknown" to every RCPT: that is not 40 dead
    mailboxes, it is the relay."""
    controller, handler = relay
    config, db = _setup(tmp_path, controller.port)
    handler.refuse = {a: POSTFIX_UNKNOWN.format(a) for a in _readers(db)}
    with pytest.raises(DeliveryError) as stopped:
        _send(config, db)
    said = str(stopped.value)
    assert "User unknown in local recipient table" in said  # the relay's own words
    assert "relay_domains" in said and "local_recipient_maps" in said
    assert "Nobody was taken off the list" in said and "send --resume" in said
    _nobody_left(db)
    edition = store.get_edition(db, "2026-W47")
    assert edition is not None
    counts = store.delivery_counts(db, edition.id)
    assert "bounced" not in counts and "sent" not in counts
    # it stopped at the breaker, not after trying everyone (2 in flight at most)
    assert 5 <= counts["deferred"] <= 5 + 2 and counts["pending"] >= READERS - 7
    assert all(
        e.startswith("held: 550 5.1.1")
        for status, e, _ in store.undelivered_reasons(db, edition.id, 10)
        if status == "deferred"
    )
    handler.refuse = {}  # the relay fixed
    _resume_delivers_everyone_once(config, db, handler)


def test_a_relay_refusing_one_in_twenty_bounces_exactly_those(tmp_path: Path, relay: Any) -> None:
    """Refused among deliveries, a refusal is about its address: those readers bounce,
    the first one too (refused before the relay had delivered anything)."""
    controller, handler = relay
    config, db = _setup(tmp_path, controller.port)
    gone = _readers(db)[::20]
    assert len(gone) == READERS // 20 and gone[0] == _readers(db)[0]
    handler.refuse = {a: POSTFIX_UNKNOWN.format(a) for a in gone}
    report = _send(config, db)
    assert report is not None and report.problem.startswith("2 addresses were refused")
    assert (report.count("sent"), report.count("bounced")) == (READERS - len(gone), len(gone))
    bounced = {s.email for s in store.iter_subscribers(db) if s.status == "bounced"}
    assert bounced == set(gone)
    recipients = Counter(r.rcpt_tos[0] for r in handler.received)
    assert set(recipients) == set(_readers(db)) - set(gone) and set(recipients.values()) == {1}


def test_dead_addresses_in_a_row_at_one_domain_bounce_while_the_relay_delivers(
    tmp_path: Path, relay: Any
) -> None:
    """Six readers in a row at a domain that is gone: one domain, among deliveries to
    others, is evidence about that domain's mailboxes, not the relay."""
    controller, handler = relay
    config, db = _setup(tmp_path, controller.port)
    with db.atomic():
        gone = [f"old{i}@gone.example.net" for i in range(6)]
        for address in gone:
            save_subscriber(db, address, "", [], NOW)
        for i in range(10):
            save_subscriber(db, f"later{i}@example.net", "", [], NOW)
    handler.refuse = {a: f"550 5.1.1 <{a}>: Recipient address rejected: User unknown" for a in gone}
    report = _send(config, db)
    assert report is not None and report.problem.startswith("6 addresses were refused")
    assert report.count("bounced") == 6 and report.count("sent") == READERS + 10
    assert {s.email for s in store.iter_subscribers(db) if s.status == "bounced"} == set(gone)


@dataclass
class Breaks(RecordingHandler):
    """Delivers the first ``good`` recipients, then refuses every one as unknown (a relay
    reloaded with a wrong table in the middle of a run)."""

    good: int = 30
    seen: int = 0

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.seen += 1
        if self.seen > self.good:
            return POSTFIX_UNKNOWN.format(address)
        return await super().handle_RCPT(server, session, envelope, address, options)


def test_a_relay_that_starts_refusing_everyone_mid_run_bounces_nobody(tmp_path: Path) -> None:
    handler = Breaks()
    controller = LocalController(handler)
    controller.start()
    try:
        config, db = _setup(tmp_path, controller.port)
        with db.atomic():  # readers at many domains, as a real list has
            for i in range(30):
                save_subscriber(db, f"more{i}@d{i % 7}.example.net", "", [], NOW)
        with pytest.raises(DeliveryError) as stopped:
            _send(config, db)
        # 30 delivered, then refusals across domains in a row: the breaker, not the
        # majority (30 deliveries outnumber them), stops the run
        assert "domains with the same words" in str(stopped.value)
        assert "User unknown in local recipient table" in str(stopped.value)
        assert Counter(s.status for s in store.iter_subscribers(db)) == {"active": READERS + 30}
        handler.good = 10_000  # fixed
        report = _send(config, db)
        assert report is not None and report.count("sent") == READERS + 30
        recipients = Counter(r.rcpt_tos[0] for r in handler.received)
        assert len(recipients) == READERS + 30 and set(recipients.values()) == {1}
    finally:
        controller.stop()
