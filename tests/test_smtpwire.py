"""The wire-speed SMTP path: the aiosmtplib internals it relies on, what it sends, and
that digest's messages need no dot-stuffing or line-ending repair."""

import asyncio
import binascii
import random
import re
from pathlib import Path

import aiosmtplib
import pytest

from digest.config import Config
from digest.message import build_message, prepare_variant
from digest.models import RenderedVariant, Subscriber
from digest.render import PLACEHOLDERS
from digest.smtp import smtp_ready
from digest.smtpwire import WireClient
from digest.subscribers import clean_name

from .conftest import NOW, make_config


def test_the_aiosmtplib_internals_the_wire_path_relies_on_are_there() -> None:
    """If this fails, aiosmtplib changed under smtpwire: check the pinned range."""
    client = aiosmtplib.SMTP()
    for attribute in ("transport", "protocol", "esmtp_extensions", "is_ehlo_or_helo_needed"):
        assert hasattr(client, attribute), attribute
    assert callable(getattr(asyncio.Transport, "set_protocol", None))
    for name in (
        "SMTPSenderRefused",
        "SMTPRecipientsRefused",
        "SMTPRecipientRefused",
        "SMTPDataError",
        "SMTPServerDisconnected",
        "SMTPReadTimeoutError",
    ):
        assert hasattr(aiosmtplib, name), name


class _Session:
    """A scripted relay that records exactly what arrives, byte for byte."""

    def __init__(self, pipelining: bool, refuse_rcpt: bool = False) -> None:
        self.pipelining = pipelining
        self.refuse_rcpt = refuse_rcpt
        self.received = bytearray()
        self.writes: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        in_data = False
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            self.writes.append(chunk)
            self.received += chunk
            lines = chunk.split(b"\r\n")
            for line in lines[:-1]:
                if in_data:
                    if line == b".":
                        in_data = False
                        writer.write(b"250 2.0.0 queued\r\n")
                    continue
                word = line[:4].upper()
                if word == b"EHLO":
                    extensions = b"250-PIPELINING\r\n" if self.pipelining else b""
                    writer.write(b"250-test\r\n" + extensions + b"250 SIZE 100000000\r\n")
                elif word == b"MAIL":
                    writer.write(b"250 2.1.0 ok\r\n")
                elif word == b"RCPT":
                    writer.write(b"550 5.1.1 no\r\n" if self.refuse_rcpt else b"250 2.1.5 ok\r\n")
                elif word == b"DATA":
                    writer.write(
                        b"554 5.5.1 no valid recipients\r\n" if self.refuse_rcpt else b"354 go\r\n"
                    )
                    in_data = not self.refuse_rcpt
                elif word == b"RSET":
                    writer.write(b"250 ok\r\n")
                elif word == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    writer.close()
                    await writer.wait_closed()
                    return
            await writer.drain()
        writer.close()
        await writer.wait_closed()


async def _exchange(session: _Session, message: bytes) -> None:
    server = await asyncio.start_server(session.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=5)
    await client.connect()
    await client.ehlo()
    wire = WireClient(client, 5)
    try:
        await wire.send("wrap@news.example.com", "reader@example.org", message)
    finally:
        await wire.quit()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("pipelining", [True, False])
def test_one_transaction_on_the_wire(pipelining: bool) -> None:
    message = b"Subject: s\r\n\r\nbody line\r\n"
    session = _Session(pipelining)
    asyncio.run(_exchange(session, message))
    envelope = b"MAIL FROM:<wrap@news.example.com> SIZE=25\r\nRCPT TO:<reader@example.org>\r\n"
    assert bytes(session.received).startswith(b"EHLO")
    assert envelope + b"DATA\r\n" in bytes(session.received)
    assert message + b".\r\n" in bytes(session.received)  # sent as built: no passes over it
    if pipelining:
        assert envelope + b"DATA\r\n" in session.writes  # MAIL, RCPT and DATA in one write


def test_a_refused_recipient_raises_what_sendmail_would() -> None:
    session = _Session(pipelining=True, refuse_rcpt=True)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
        asyncio.run(_exchange(session, b"Subject: s\r\n\r\nx\r\n"))
    assert caught.value.recipients[0].code == 550
    assert b"RSET\r\n" in bytes(session.received)


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
        f"{PLACEHOLDERS['greeting']}\n.starts with a dot\n"
        f"{PLACEHOLDERS['email']} {PLACEHOLDERS['token']}\n" + "..\n" * 3
    )
    return RenderedVariant("", "Subject", "<style>\n.x { color: red }\n</style>" + body, body, 1)


@pytest.mark.parametrize("seed", range(30))
def test_digests_messages_need_no_dot_stuffing_or_line_end_repair(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    # as stored: clean_name takes control characters out of names (they break headers)
    name = clean_name("".join(rng.choice(_NASTY) for _ in range(rng.randint(1, 4))))
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
