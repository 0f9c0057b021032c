"""SMTP transactions at the speed of the wire, on a connection aiosmtplib opened.

aiosmtplib connects, says EHLO, upgrades with STARTTLS and logs in; then this module
takes the connection's transport over and runs each transaction itself:

- the message goes as it is: digest builds bodies with CRLF line ends only and no line
  starting with "." (see `bodies.quoted_printable`), so aiosmtplib's two regular-expression passes
  over every body (line endings, dot-stuffing; a third for SIZE) are not needed;
- addresses are written as they are: digest validated them when they were stored, and
  aiosmtplib's own patterns refuse here what could smuggle a command onto the line;
- replies are capped as aiosmtplib caps them; a line that is not a reply ends the
  connection (it is never read as a refusal); each phase waits as long as RFC 5321
  gives it (`Timeouts`), the final "." longest;
- with PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write, and the message
  and its final "." in another: two round trips a message, not four.

This reaches into aiosmtplib's connection (its `transport` attribute, and the fact that
no reply is left unread after `connect()`): the versions it is tested with are pinned
in pyproject.toml, and `tests/test_smtpwire.py` fails loudly if that changes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import cast

import aiosmtplib
from aiosmtplib.email import ADDRESS_INJECTION_REGEX, QUOTED_LOCAL_PART_REGEX

from digest.addresses import needs_smtputf8
from digest.mail.replies import Phase

# aiosmtplib's own caps (protocol.py): a reply line and a whole reply.
MAX_LINE = 8192
MAX_REPLY = MAX_LINE * 4


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: its code and its text (continuation lines joined)."""

    code: int
    text: str


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for each reply, as RFC 5321 section 4.5.3.2 gives them: 5 minutes
    for MAIL and RCPT, 2 for the 354 after DATA, 10 for the reply to the final "."."""

    command: float = 300.0
    data: float = 120.0
    dot: float = 600.0


class Refusal(Exception):
    """The relay answered a phase of the transaction with something other than yes."""

    def __init__(self, phase: Phase, reply: Reply) -> None:
        super().__init__(f"{reply.code} {reply.text} (reply to {phase})")
        self.phase = phase
        self.reply = reply


class WireError(aiosmtplib.SMTPServerDisconnected):
    """The connection is unusable: dropped, timed out, or the relay spoke garbage."""

    def __init__(self, message: str, *, stalled: bool = False) -> None:
        super().__init__(message)
        self.stalled = stalled  # no reply within the phase's timeout


class _Replies(asyncio.Protocol):
    """Reads replies off the transport into a queue; none is ever dropped. A line that is
    not a reply, or a reply past aiosmtplib's caps, ends the connection."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.replies: deque[Reply] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.lost: Exception | None = None
        self.lines: list[str] = []
        self.size = 0  # bytes of the reply being read
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.lost is None:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    self._garbage("a reply line longer than 8192 bytes")
                break
            raw = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            self._line(raw)
        self._wake()

    def _line(self, raw: bytes) -> None:
        self.size += len(raw)  # as aiosmtplib counts: line ends included
        if len(raw) > MAX_LINE or self.size > MAX_REPLY:
            self._garbage("a reply longer than aiosmtplib allows")
            return
        line = raw.rstrip(b"\r\n")
        if not (line[:3].isdigit() and line[3:4] in (b"", b" ", b"-")):
            shown = line[:80].decode("utf-8", "replace")
            self._garbage(f"a line that is not an SMTP reply: {shown!r}")
            return
        self.lines.append(line[4:].decode("utf-8", "replace"))
        if line[3:4] != b"-":  # the last line of a reply
            self.replies.append(Reply(int(line[:3]), "\n".join(self.lines)))
            self.lines, self.size = [], 0

    def _garbage(self, what: str) -> None:
        self.lost = WireError(f"the relay sent {what}")
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or exc or ConnectionResetError("the relay closed the connection")
        self._wake()

    def eof_received(self) -> bool:
        self.lost = self.lost or ConnectionResetError("the relay closed the connection")
        self._wake()
        return False

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self, timeout: float) -> Reply:
        """The next reply, in order."""
        while not self.replies:
            if self.lost is not None:
                raise WireError(f"connection lost: {self.lost}")
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.waiter, timeout)
            except TimeoutError as e:
                raise WireError(f"no reply from the relay in {timeout:g} s", stalled=True) from e
        return self.replies.popleft()


class WireClient:
    """One connection's transactions, after aiosmtplib has set it up."""

    def __init__(self, client: aiosmtplib.SMTP, timeouts: Timeouts) -> None:
        transport = client.transport
        if transport is None or client.protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("not connected")
        self.extensions = dict(client.esmtp_extensions)
        self.timeouts = timeouts
        self.replies = _Replies()
        # From here on the connection is ours: aiosmtplib must not touch it again.
        client.protocol = None
        client.transport = None
        self.transport = cast(asyncio.WriteTransport, transport)
        transport.set_protocol(self.replies)
        self.replies.connection_made(transport)

    def supports(self, extension: str) -> bool:
        """Whether the relay announced ``extension`` in its EHLO reply."""
        return extension.lower() in self.extensions

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """One transaction. ``message`` must be SMTP-ready: CRLF line ends, no line
        starting with ".", ending with CRLF. Raises `Refusal` for an answer other than
        yes (with its phase), `WireError` when the connection is unusable, ValueError
        for an address aiosmtplib would not put on a command line."""
        for address in (sender, recipient):
            _check_address(address)
        utf8 = needs_smtputf8(sender, recipient)
        options = b""
        if self.supports("size"):
            options += b" SIZE=" + str(len(message)).encode()
        if utf8:
            if not self.supports("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
            options += b" SMTPUTF8"
        mail = b"MAIL FROM:<" + sender.encode() + b">" + options + b"\r\n"
        rcpt = b"RCPT TO:<" + recipient.encode() + b">\r\n"
        await self._envelope(mail, rcpt)
        self._write(message + b".\r\n")
        final = await self.replies.next(self.timeouts.dot)
        if final.code != 250:
            raise Refusal(Phase.DOT, final)

    async def _envelope(self, mail: bytes, rcpt: bytes) -> None:
        """MAIL, RCPT and DATA (pipelined when offered); returns once DATA got 354."""
        phases = ((Phase.MAIL, mail), (Phase.RCPT, rcpt), (Phase.DATA, b"DATA\r\n"))
        replies: list[Reply] = []
        if self.supports("pipelining"):
            self._write(mail + rcpt + b"DATA\r\n")
            for phase, _ in phases:
                replies.append(await self._reply(phase))
        else:
            for phase, command in phases:
                self._write(command)
                replies.append(await self._reply(phase))
                if not _accepted(phase, replies[-1]):
                    break
        refused = next(
            ((p, r) for (p, _), r in zip(phases, replies, strict=False) if not _accepted(p, r)),
            None,
        )
        if refused is None:
            return
        if len(replies) == 3 and replies[2].code == 354:
            # RFC 2920 3.1: DATA was accepted although an earlier command was refused: a
            # lone "." ends it, or the relay would read what comes next as the message.
            self._write(b".\r\n")
            await self.replies.next(self.timeouts.dot)
        else:
            await self._reset()
        raise Refusal(*refused)

    async def _reply(self, phase: Phase) -> Reply:
        timeout = self.timeouts.data if phase is Phase.DATA else self.timeouts.command
        return await self.replies.next(timeout)

    async def _reset(self) -> None:
        """RSET after a refusal, so the next transaction starts clean."""
        try:
            self._write(b"RSET\r\n")
            await self.replies.next(self.timeouts.command)
        except (aiosmtplib.SMTPException, OSError):
            pass

    async def quit(self) -> None:
        """Say QUIT and close."""
        try:
            self._write(b"QUIT\r\n")
            await asyncio.wait_for(self.replies.next(self.timeouts.command), 2)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection."""
        if not self.transport.is_closing():
            self.transport.close()

    def _write(self, data: bytes) -> None:
        if self.transport.is_closing() or self.replies.lost is not None:
            raise WireError("connection lost")
        self.transport.write(data)


def _check_address(address: str) -> None:
    """ValueError for an address aiosmtplib would refuse to put on a command line
    (whitespace, CR, LF, "<", ">" or a quote outside a quoted local part): its own
    patterns, without its per-call parse."""
    unquoted = QUOTED_LOCAL_PART_REGEX.sub("", address, count=1)
    if not address or ADDRESS_INJECTION_REGEX.search(unquoted):
        raise ValueError(f"address {address!r} cannot go on an SMTP command line")


def _accepted(phase: Phase, reply: Reply) -> bool:
    if phase is Phase.DATA:
        return reply.code == 354
    return reply.code in (250, 251) if phase is Phase.RCPT else reply.code == 250
