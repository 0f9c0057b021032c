"""SMTP transactions at the speed of the wire, on a connection aiosmtplib opened.

aiosmtplib connects, says EHLO, upgrades with STARTTLS and logs in; then this module
takes the connection's transport over and runs each transaction itself:

- the message goes as it is: digest builds bodies with CRLF line ends only and no line
  starting with "." (see `message._qp`), so aiosmtplib's two regular-expression passes
  over every body (line endings, dot-stuffing; a third for SIZE) are not needed;
- addresses are written as they are: digest validated them when they were stored
  (a CR, LF, "<" or ">" in one is still refused here, cheaply);
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

_BAD_IN_ADDRESS = frozenset("\r\n<>")


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: its code and its text (continuation lines joined)."""

    code: int
    text: str


class _Replies(asyncio.Protocol):
    """Reads replies off the transport into a queue; none is ever dropped."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.replies: deque[Reply] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.lost: Exception | None = None
        self.lines: list[str] = []

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self.buffer[: end + 1]).rstrip(b"\r\n")
            del self.buffer[: end + 1]
            self.lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":  # the last line of a reply
                try:
                    code = int(line[:3])
                except ValueError:
                    code = 500
                self.replies.append(Reply(code, "\n".join(self.lines)))
                self.lines = []
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError("the relay closed the connection")
        self._wake()

    def eof_received(self) -> bool:
        self.lost = ConnectionResetError("the relay closed the connection")
        self._wake()
        return False

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self, timeout: float) -> Reply:
        """The next reply, in order."""
        while not self.replies:
            if self.lost is not None:
                raise aiosmtplib.SMTPServerDisconnected(f"Connection lost: {self.lost}")
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.waiter, timeout)
            except TimeoutError as e:
                raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for the relay") from e
        return self.replies.popleft()


class WireClient:
    """One connection's transactions, after aiosmtplib has set it up."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float) -> None:
        transport = client.transport
        if transport is None or client.protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("not connected")
        self.extensions = dict(client.esmtp_extensions)
        self.timeout = timeout
        self.replies = _Replies()
        # From here on the connection is ours: aiosmtplib must not touch it again.
        client.protocol = None
        client.transport = None
        self.transport = cast(asyncio.WriteTransport, transport)
        transport.set_protocol(self.replies)

    def supports(self, extension: str) -> bool:
        """Whether the relay announced ``extension`` in its EHLO reply."""
        return extension.lower() in self.extensions

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """One transaction. ``message`` must be SMTP-ready: CRLF line ends, no line
        starting with ".", ending with CRLF. Raises aiosmtplib's exceptions, as
        ``sendmail`` would, so callers classify failures one way."""
        for address in (sender, recipient):
            if _BAD_IN_ADDRESS.intersection(address):
                raise ValueError(f"address {address!r} contains a forbidden character")
        utf8 = not (sender.isascii() and recipient.isascii())
        options = b""
        if self.supports("size"):
            options += b" SIZE=" + str(len(message)).encode()
        if utf8:
            if not self.supports("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
            options += b" SMTPUTF8"
        mail = b"MAIL FROM:<" + sender.encode() + b">" + options + b"\r\n"
        rcpt = b"RCPT TO:<" + recipient.encode() + b">\r\n"
        if self.supports("pipelining"):
            self._write(mail + rcpt + b"DATA\r\n")
            replies = [await self._reply() for _ in range(3)]
        else:
            replies = []
            for command in (mail, rcpt, b"DATA\r\n"):
                self._write(command)
                replies.append(await self._reply())
                if replies[-1].code >= 400:
                    break
        await self._check_envelope(sender, recipient, replies)
        self._write(message + b".\r\n")
        final = await self._reply()
        if final.code != 250:
            raise aiosmtplib.SMTPDataError(final.code, final.text)

    async def _check_envelope(self, sender: str, recipient: str, replies: list[Reply]) -> None:
        mail = replies[0]
        rcpt = replies[1] if len(replies) > 1 else None
        data = replies[2] if len(replies) > 2 else None
        if mail.code != 250:
            await self._reset()
            raise aiosmtplib.SMTPSenderRefused(mail.code, mail.text, sender)
        if rcpt is None or rcpt.code not in (250, 251):
            await self._reset()
            code, text = (rcpt.code, rcpt.text) if rcpt else (554, "no reply to RCPT")
            raise aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(code, text, recipient)]
            )
        if data is None or data.code != 354:
            await self._reset()
            code, text = (data.code, data.text) if data else (554, "no reply to DATA")
            raise aiosmtplib.SMTPDataError(code, text)

    async def _reset(self) -> None:
        """RSET after a refusal, so the next transaction starts clean."""
        try:
            self._write(b"RSET\r\n")
            await self._reply()
        except (aiosmtplib.SMTPException, OSError):
            pass

    async def quit(self) -> None:
        """Say QUIT and close."""
        try:
            self._write(b"QUIT\r\n")
            await asyncio.wait_for(self.replies.next(self.timeout), 2)
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
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.transport.write(data)

    async def _reply(self) -> Reply:
        return await self.replies.next(self.timeout)
