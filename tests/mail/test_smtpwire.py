"""The wire-speed SMTP path: the aiosmtplib internals it relies on, what it sends, and
that digest's messages need no dot-stuffing or line-ending repair."""

import asyncio
import binascii
import contextlib
import random
import re
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtplib.email import ADDRESS_INJECTION_REGEX, QUOTED_LOCAL_PART_REGEX

from digest.addresses import MAX_NAME, clean_name
from digest.config import Config
from digest.mail.message import build_message, prepare_variant
from digest.mail.replies import Phase
from digest.mail.smtp import smtp_ready
from digest.mail.smtpwire import Refusal, Timeouts, WireClient, WireError
from digest.models import RenderedVariant, Subscriber, slot_text

from ..conftest import NOW, make_config


def test_the_aiosmtplib_internals_the_wire_path_relies_on_are_there() -> None:
    """If this fails, aiosmtplib changed under smtpwire: check the pinned range. The
    transaction tests below take a real aiosmtplib connection over; this one names what
    they need, so the failure says which part moved."""
    client = aiosmtplib.SMTP()
    for attribute in ("transport", "protocol", "esmtp_extensions", "is_ehlo_or_helo_needed"):
        assert hasattr(client, attribute), attribute
    assert callable(getattr(asyncio.Transport, "set_protocol", None))
    # the address patterns smtpwire applies as aiosmtplib does
    assert ADDRESS_INJECTION_REGEX.search("a b@example.org")
    assert ADDRESS_INJECTION_REGEX.search("a@example.org>\r\nRCPT TO:<b@example.org")
    assert not ADDRESS_INJECTION_REGEX.search("a.b+tag@example.org")
    assert QUOTED_LOCAL_PART_REGEX.sub("", '"a b"@example.org', count=1) == "@example.org"


class _Session:
    """A scripted relay that records exactly what arrives, byte for byte. ``answers``
    replaces its reply to a command (MAIL, RCPT, DATA, and "." for the end of data);
    None there means: never answer."""

    def __init__(
        self,
        pipelining: bool,
        answers: dict[str, bytes | None] | None = None,
        dot_delay: float = 0.0,
    ) -> None:
        self.pipelining = pipelining
        self.answers = {
            "MAIL": b"250 2.1.0 ok",
            "RCPT": b"250 2.1.5 ok",
            "DATA": b"354 go",
            ".": b"250 2.0.0 queued",
            **(answers or {}),
        }
        self.dot_delay = dot_delay
        self.received = bytearray()
        self.writes: list[bytes] = []
        self.messages: list[bytes] = []
        self.handlers = 0  # conversations still going on

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handlers += 1
        try:
            await self._converse(reader, writer)
        except ConnectionError:
            pass  # the client dropped the connection: what some tests want
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.handlers -= 1

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        in_data, body = False, bytearray()
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            self.writes.append(chunk)
            self.received += chunk
            for line in chunk.split(b"\r\n")[:-1]:
                if in_data:
                    if line == b".":
                        in_data = False
                        self.messages.append(bytes(body))
                        body.clear()
                        await asyncio.sleep(self.dot_delay)
                        self._answer(writer, ".")
                    else:
                        body += line + b"\r\n"
                    continue
                word = line[:4].upper().decode()
                if word == "EHLO":
                    extensions = b"250-PIPELINING\r\n" if self.pipelining else b""
                    writer.write(b"250-test\r\n" + extensions + b"250 SIZE 100000000\r\n")
                elif word in ("MAIL", "RCPT"):
                    self._answer(writer, word)
                elif word == "DATA":
                    self._answer(writer, "DATA")
                    in_data = (self.answers["DATA"] or b"").startswith(b"354")
                elif word == "RSET":
                    writer.write(b"250 ok\r\n")
                elif word == "QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
            await writer.drain()

    def _answer(self, writer: asyncio.StreamWriter, command: str) -> None:
        answer = self.answers[command]
        if answer is not None:
            writer.write(answer + b"\r\n")


_FIVE_SECONDS = Timeouts(5, 5, 5)


async def _exchange(
    session: _Session,
    messages: list[bytes],
    timeouts: Timeouts = _FIVE_SECONDS,
    recipient: str = "reader@example.org",
) -> list[BaseException | None]:
    """Send ``messages`` one after another on one connection; what each raised."""
    server = await asyncio.start_server(session.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=5)
    await client.connect()
    await client.ehlo()
    wire = WireClient(client, timeouts)
    outcomes: list[BaseException | None] = []
    try:
        for message in messages:
            try:
                await wire.send("wrap@news.example.com", recipient, message)
                outcomes.append(None)
            except (Refusal, WireError, ValueError) as e:
                outcomes.append(e)
    finally:
        await wire.quit()
        server.close()
        await server.wait_closed()
        for _ in range(500):  # 3.11's wait_closed does not wait for the handlers
            if not session.handlers:
                break
            await asyncio.sleep(0.01)
    return outcomes


@pytest.mark.parametrize("pipelining", [True, False])
def test_one_transaction_on_the_wire(pipelining: bool) -> None:
    message = b"Subject: s\r\n\r\nbody line\r\n"
    session = _Session(pipelining)
    assert asyncio.run(_exchange(session, [message])) == [None]
    envelope = b"MAIL FROM:<wrap@news.example.com> SIZE=25\r\nRCPT TO:<reader@example.org>\r\n"
    assert bytes(session.received).startswith(b"EHLO")
    assert envelope + b"DATA\r\n" in bytes(session.received)
    assert message + b".\r\n" in bytes(session.received)  # sent as built: no passes over it
    if pipelining:
        assert envelope + b"DATA\r\n" in session.writes  # MAIL, RCPT and DATA in one write


def test_a_refused_recipient_is_a_refusal_at_rcpt_and_the_connection_stays_clean() -> None:
    session = _Session(pipelining=False, answers={"RCPT": b"550 5.1.1 no such user"})
    (refused,) = asyncio.run(_exchange(session, [b"Subject: s\r\n\r\nx\r\n"]))
    assert isinstance(refused, Refusal)
    assert (refused.phase, refused.reply.code) == (Phase.RCPT, 550)
    assert b"RSET\r\n" in bytes(session.received) and b"DATA" not in bytes(session.received)


def test_data_accepted_after_a_refused_rcpt_gets_a_lone_dot_not_rset() -> None:
    """RFC 2920 3.1: with PIPELINING, DATA may be accepted (354) although RCPT was
    refused; only a lone "." ends it, else the relay reads what follows as the message."""
    session = _Session(True, {"RCPT": b"554 5.7.1 Relay access denied", ".": b"554 no rcpt"})
    first, second = b"Subject: one\r\n\r\nx\r\n", b"Subject: two\r\n\r\ny\r\n"
    outcomes = asyncio.run(_exchange(session, [first, second]))
    assert all(isinstance(o, Refusal) and o.phase is Phase.RCPT for o in outcomes)
    assert b"RSET" not in bytes(session.received)
    assert session.messages == [b"", b""]  # each transaction ended by its lone "."
    assert b"Subject: two" not in bytes(session.received)  # never sent as text of another


@pytest.mark.parametrize(
    "answers",
    [
        {"MAIL": b"hello there"},  # not a reply
        {"MAIL": b"250-" + b"x" * 9000},  # a line past aiosmtplib's 8192
        {"MAIL": b"250-x\r\n" * 5000 + b"250 ok"},  # a reply past its 32 KB
    ],
    ids=["garbage", "long-line", "long-reply"],
)
def test_garbage_or_an_oversized_reply_ends_the_connection_never_a_refusal(
    answers: dict[str, bytes | None],
) -> None:
    (outcome,) = asyncio.run(_exchange(_Session(True, answers), [b"Subject: s\r\n\r\nx\r\n"]))
    assert isinstance(outcome, WireError), outcome


def test_a_relay_that_stops_answering_times_out_by_phase() -> None:
    session = _Session(True, {"MAIL": None})
    (outcome,) = asyncio.run(
        _exchange(session, [b"Subject: s\r\n\r\nx\r\n"], Timeouts(0.2, 0.2, 60))
    )
    assert isinstance(outcome, WireError) and "no reply" in str(outcome)


def test_the_reply_to_the_final_dot_gets_the_long_wait() -> None:
    """A relay that takes longer than the command timeout to accept the message (it is
    filtering it) must not see it sent twice: the final "." waits `Timeouts.dot`."""
    session = _Session(True, dot_delay=1.0)
    outcomes = asyncio.run(_exchange(session, [b"Subject: s\r\n\r\nx\r\n"], Timeouts(0.2, 0.2, 60)))
    assert outcomes == [None]


@pytest.mark.parametrize(
    "address", ["a b@example.org", "x@example.org>\r\nRSET", "<x@example.org>", ""]
)
def test_an_address_aiosmtplib_would_refuse_never_reaches_the_wire(address: str) -> None:
    session = _Session(True)
    (outcome,) = asyncio.run(_exchange(session, [b"x\r\n"], recipient=address))
    assert isinstance(outcome, ValueError)
    assert b"MAIL" not in bytes(session.received)


_NASTY = [
    ".",
    "..",
    ".hidden",
    "a\n.b",
    "x\r.y",
    "line\r\nline",
    "." * 200,
    "=2E",
    "é" * 90,
    "\n.\n",
    "Ann ." + "x" * 80,
    " .",
    "\t.",
]


def _variant() -> RenderedVariant:
    body = (
        f"{slot_text('m', 'greeting')}\n.starts with a dot\n"
        f"{slot_text('m', 'email')} {slot_text('m', 'token')}\n" + "..\n" * 3
    )
    html = "<style>\n.x { color: red }\n</style>" + body
    return RenderedVariant("", "Subject", html, body, 1, slots="m")


@pytest.mark.parametrize("seed", range(30))
def test_digests_messages_need_no_dot_stuffing_or_line_end_repair(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    # as stored: clean_name takes control characters out of names (they break headers),
    # and a name has at most MAX_NAME characters
    raw = "".join(rng.choice(_NASTY) for _ in range(rng.randint(1, 4)))
    name = clean_name(raw[:MAX_NAME])
    greeting = rng.choice([".Hi {first_name},", "Hi {name}\n.", "{name}"])
    config = make_config(tmp_path, digest={"greeting": greeting})
    prepared = prepare_variant(config, _variant(), "2026-W47", NOW)
    raw = build_message(config, prepared, Subscriber(7, "reader@example.org", name))
    lines = raw.split(b"\r\n")
    assert lines[-1] == b""  # ends with CRLF
    assert not any(line.startswith(b".") for line in lines)
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    assert smtp_ready(raw) == raw  # the repair the wire path skips would change nothing
    # and the reader still gets exactly the value
    html = raw.split(b"Content-Type: text/html")[1].split(b"\r\n\r\n", 1)[1]
    decoded = binascii.a2b_qp(html).decode("utf-8")
    assert ".starts with a dot" in decoded
    first = name.split()[0] if name.split() else ""
    if name.strip() and "{first_name}" in greeting:
        import html as h

        assert h.escape(first) in decoded.replace("\r\n", "\n")


def test_bytes_from_elsewhere_are_repaired_on_the_way(config: Config) -> None:
    assert smtp_ready(b"a\n.b\r.c\r\n..d") == b"a\r\n..b\r\n..c\r\n...d\r\n"
    assert re.fullmatch(rb"(?:[^\r\n]*\r\n)*", smtp_ready(b"x\ny"))
