"""One contract for every transport, as Django's `BaseEmailBackendTests` holds each of
its mail backends to one suite: the outbox, SMTP (a real aiosmtpd relay), Amazon SES
(moto's server) and Mailgun (a local server answering as its API documents) each deliver
the bytes digest built, take one refused reader off alone, stop the run on a refusal of
the run itself (bouncing nobody, and a resume delivers each reader once), and keep the
provider's id of each message where a provider gives one. A new transport adds its
`Transport` below and gets the suite.

Where the far side cannot do a thing (an outbox refuses nothing; moto's SES cannot refuse
one recipient; a relay's queue id is not a provider's message id) the test says so and
skips.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.preview import preview_edition
from digest.delivery.sending import send_edition
from digest.errors import DeliveryError

from ..conftest import NOW, SECRET, LocalController, SenderBlockingRelay, make_config
from ..fixtures import load_week
from ..providers import MailgunApi, reset, sent_by_ses

WEEK = "2026-W47"
READERS = 6  # the tests' week has six
REFUSED = "ben.hughes@example.org"


@dataclass
class Transport:
    """One transport as the contract drives it."""

    name: str
    config: Config
    delivered: Callable[[], dict[str, bytes]]  # recipient -> the bytes that arrived
    refuse_reader: Callable[[str], None] | None = None  # the far side refuses one address
    block: Callable[[], None] | None = None  # the far side refuses the whole run
    unblock: Callable[[], None] | None = None
    gives_ids: bool = False  # the provider names each message, and digest keeps it
    notes: dict[str, str] = field(default_factory=dict)


def _outbox(tmp_path: Path, request: pytest.FixtureRequest) -> Transport:
    config = make_config(tmp_path)

    def delivered() -> dict[str, bytes]:
        folder = config.outbox_path / WEEK
        return {p.name.removesuffix(".eml"): p.read_bytes() for p in folder.glob("*.eml")}

    return Transport("outbox", config, delivered, notes={"refuse": "an outbox refuses nothing"})


def _smtp(tmp_path: Path, request: pytest.FixtureRequest) -> Transport:
    handler = SenderBlockingRelay(blocked=False)
    controller = LocalController(handler)
    controller.start()
    request.addfinalizer(controller.stop)
    config = make_config(
        tmp_path,
        smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none", "retries": 0},
    )

    def delivered() -> dict[str, bytes]:
        return {m.rcpt_tos[0]: m.data for m in handler.received}

    def refuse(address: str) -> None:
        handler.refuse[address] = f"550 5.1.1 <{address}>: user unknown"

    return Transport(
        "smtp",
        config,
        delivered,
        refuse,
        block=lambda: setattr(handler, "blocked", True),
        unblock=lambda: setattr(handler, "blocked", False),
        notes={"ids": "a relay's queue id is not a provider's message id"},
    )


def _ses(tmp_path: Path, request: pytest.FixtureRequest) -> Transport:
    import boto3

    url = request.getfixturevalue("moto")
    reset(url)
    config = make_config(tmp_path, delivery={"transport": "ses"}, smtp={"retries": 0})
    client = boto3.client("sesv2")

    def delivered() -> dict[str, bytes]:
        out = {}
        for m in sent_by_ses(url):
            raw = m["raw_data"].encode("utf-8")  # moto keeps it as text
            out[parseaddr(email.message_from_bytes(raw)["To"])[1]] = raw
        return out

    def allow() -> None:
        client.create_email_identity(EmailIdentity="news.example.com")

    allow()
    return Transport(
        "ses",
        config,
        delivered,
        block=lambda: reset(url),  # the identity is gone: SES refuses the sender
        unblock=allow,
        gives_ids=True,
        notes={"refuse": "moto's SES cannot refuse one recipient"},
    )


def _mailgun(tmp_path: Path, request: pytest.FixtureRequest) -> Transport:
    api: MailgunApi = request.getfixturevalue("mailgun_api")
    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET, "DIGEST_MAILGUN_API_KEY": "key-api"},
        delivery={"transport": "mailgun"},
        mailgun={
            "domain": "mg.example.com",
            "base_url": f"http://127.0.0.1:{api.server_address[1]}",
        },
        smtp={"retries": 0},
    )

    def delivered() -> dict[str, bytes]:
        return {
            r["to"].decode(): r["message"] for r in api.received if r["to"].decode() in api.accepted
        }

    return Transport(
        "mailgun",
        config,
        delivered,
        api.refuse_to.add,
        block=lambda: setattr(api, "refuse", "'from' parameter is not a valid address."),
        unblock=lambda: setattr(api, "refuse", ""),
        gives_ids=True,
    )


MAKERS = {"outbox": _outbox, "smtp": _smtp, "ses": _ses, "mailgun": _mailgun}


@pytest.fixture(params=list(MAKERS))
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Transport]:
    yield MAKERS[request.param](tmp_path, request)


def _week(transport: Transport) -> tuple[Any, Any]:
    db = store.open_store(transport.config.store_path)
    load_week(transport.config, db, NOW)
    return db, week_window(WEEK, transport.config.tz)


def _lines(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


def test_every_transport_delivers_the_bytes_digest_built(transport: Transport) -> None:
    db, week = _week(transport)
    report = send_edition(transport.config, db, week, lambda: NOW)
    assert report is not None and report.count("sent") == READERS
    delivered = transport.delivered()
    assert len(delivered) == READERS
    for address, raw in delivered.items():
        reader = store.get_subscriber(db, address)
        built = preview_edition(transport.config, db, week, reader, NOW)
        assert built is not None
        assert _lines(raw) == _lines(built.message), f"{transport.name}: {address}"


def test_a_refused_reader_bounces_alone(transport: Transport) -> None:
    if transport.refuse_reader is None:
        pytest.skip(transport.notes["refuse"])
    transport.refuse_reader(REFUSED)
    db, week = _week(transport)
    report = send_edition(transport.config, db, week, lambda: NOW)
    assert report is not None
    assert (report.count("sent"), report.count("bounced")) == (READERS - 1, 1)
    statuses = {r["email"]: r["status"] for r in db.query("SELECT email, status FROM subscribers")}
    assert statuses.pop(REFUSED) == "bounced"
    assert set(statuses.values()) == {"active"}
    assert REFUSED not in transport.delivered()


def test_a_refusal_of_the_run_stops_it_and_a_resume_delivers_each_once(
    transport: Transport,
) -> None:
    if transport.block is None or transport.unblock is None:
        pytest.skip(transport.notes["refuse"])
    transport.block()
    db, week = _week(transport)
    with pytest.raises(DeliveryError):
        send_edition(transport.config, db, week, lambda: NOW)
    assert {r["status"] for r in db.query("SELECT status FROM subscribers")} == {"active"}
    assert transport.delivered() == {}
    transport.unblock()
    report = send_edition(transport.config, db, week, lambda: NOW)
    assert report is not None and report.count("sent") == READERS
    assert len(transport.delivered()) == READERS


def test_the_providers_id_of_each_message_is_kept(transport: Transport) -> None:
    if not transport.gives_ids:
        pytest.skip(transport.notes.get("ids", "an outbox names no message"))
    db, week = _week(transport)
    send_edition(transport.config, db, week, lambda: NOW)
    ids = [r["provider_id"] for r in db.query("SELECT provider_id FROM deliveries")]
    assert len(ids) == READERS and all(ids) and len(set(ids)) == READERS
