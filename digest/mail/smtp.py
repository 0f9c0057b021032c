"""The SMTP transport: connections to one or more relays, opened by aiosmtplib and run by
`smtpwire`, their failures classified for the pool.

`[smtp] host` may name several relays (`a.example.net, b.example.net:2525`): each new
connection goes to the next relay in turn; one that refuses or drops connections is
set aside for a while (`SET_ASIDE`) and the others carry its messages; the run stops
only when none can be reached. A relay that connects and then gives no reply within its
phase's timeout is not tried again for `SET_ASIDE`; when every relay has stalled, the
run stops at once (a send through one stalled relay ends within one timeout, and
`send --resume` finishes it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import aiosmtplib

from digest.addresses import needs_smtputf8
from digest.config import SmtpConfig
from digest.mail.pool import Connection, ConnectionFactory, SendFailure
from digest.mail.replies import judge, lost
from digest.mail.smtpwire import Refusal, Timeouts, WireClient, WireError
from digest.models import DeliveryStatus
from digest.relays import Relay, parse_relays

SET_ASIDE = 60.0  # seconds a relay that failed is left alone while others work


class SmtpConnection:
    """One persistent connection (opened by aiosmtplib, run by `smtpwire`) whose every
    outcome is judged by the one table in `replies`."""

    def __init__(
        self, client: WireClient, on_lost: Callable[[bool], None] = lambda stalled: None
    ) -> None:
        self.client = client
        self.on_lost = on_lost  # the relay dropped us (or stalled, True): set it aside

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: bool = False
    ) -> str | None:
        """Send one message; raise SendFailure with the table's verdict otherwise."""
        if needs_smtputf8(recipient) and not self.client.supports("smtputf8"):
            raise SendFailure(
                DeliveryStatus.FAILED,
                f"{recipient} has a non-ASCII local part and the relay does not offer "
                "SMTPUTF8; use a relay that does, or ask the reader for another address",
            )
        if not ready:  # bytes digest did not build: repair line ends, stuff dots
            data = smtp_ready(data)
        try:
            await self.client.send(sender, recipient, data)
        except Refusal as e:
            verdict = judge(e.phase, e.reply.code, e.reply.text)
            if verdict.reconnect:
                self.on_lost(False)
            raise SendFailure.of(verdict) from e
        except ValueError as e:  # an address that cannot go on a command line
            raise SendFailure(DeliveryStatus.FAILED, str(e)) from e
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            self.on_lost(isinstance(e, WireError) and e.stalled)
            raise SendFailure.of(lost(f"connection lost: {e}")) from e
        return None

    async def close(self) -> None:
        """Say QUIT, or just drop the socket if the relay is gone."""
        await self.client.quit()


_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def smtp_ready(data: bytes) -> bytes:
    """Bytes from elsewhere made ready for DATA: CRLF line ends, leading dots doubled,
    a final CRLF."""
    data = _LEADING_DOT.sub(b"..", _LINE_ENDS.sub(b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class RelaySet:
    """The relays in turn, each set aside for a while after it fails."""

    def __init__(self, relays: list[Relay], clock: Callable[[], float] = time.monotonic):
        self.relays = relays
        self.clock = clock
        self.aside: dict[Relay, float] = {}
        self.stalled: dict[Relay, float] = {}
        self.turn = 0

    def order(self) -> list[Relay]:
        """Relays to try for the next connection: the next in turn first, those set
        aside last (they are tried when nothing else works), those that stalled not at
        all; SendFailure (the run stops) when every relay stalled."""
        start = self.turn % len(self.relays)
        self.turn += 1
        rotated = self.relays[start:] + self.relays[:start]
        now = self.clock()
        answering = [r for r in rotated if self.stalled.get(r, 0) <= now]
        if not answering:
            raise SendFailure(
                DeliveryStatus.DEFERRED,
                f"every relay stopped answering ({', '.join(map(str, self.relays))}: no "
                "reply within [smtp] timeout); check that it is up and not overloaded, "
                "and its log",
                fatal=True,
            )
        return sorted(answering, key=lambda r: self.aside.get(r, 0) > now)

    def set_aside(self, relay: Relay, stalled: bool = False) -> None:
        """Leave ``relay`` alone for `SET_ASIDE` seconds; one that ``stalled`` is not
        tried at all meanwhile."""
        until = self.clock() + SET_ASIDE
        self.aside[relay] = until
        if stalled:
            self.stalled[relay] = until


def smtp_factory(settings: SmtpConfig) -> ConnectionFactory:
    """Connections to the configured relay (or relays, in turn), with TLS and login."""
    relays = RelaySet(parse_relays(settings.host, settings.port))

    async def connect() -> Connection:
        problems = []
        for relay in relays.order():  # raises when every relay stalled
            try:
                client = await _open(replace(settings, host=relay.host, port=relay.port))
            except aiosmtplib.SMTPAuthenticationError as e:
                raise SendFailure(
                    DeliveryStatus.DEFERRED, _auth_message(settings, e), fatal=True
                ) from e
            except (aiosmtplib.SMTPException, OSError) as e:
                relays.set_aside(relay)
                problems.append(f"{relay}: {e}")
                continue
            return SmtpConnection(
                WireClient(client, timeouts(settings)), partial(relays.set_aside, relay)
            )
        raise SendFailure(
            DeliveryStatus.DEFERRED,
            f"cannot connect to {'; '.join(problems)}; check [smtp] host, port and tls",
            reconnect=True,
        )

    return connect


def timeouts(settings: SmtpConfig) -> Timeouts:
    """The per-phase reply timeouts of [smtp]."""
    return Timeouts(settings.timeout, settings.data_timeout, settings.dot_timeout)


async def _open(settings: SmtpConfig) -> aiosmtplib.SMTP:
    """Connect, greet, TLS, EHLO and log in, each within [smtp] connect_timeout."""
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        timeout=settings.connect_timeout,
        use_tls=settings.tls == "tls",
        start_tls=settings.tls == "starttls",
        username=settings.username or None,
        password=settings.password or None,
        cert_bundle=settings.ca_file or None,
    )
    await client.connect()
    if client.is_ehlo_or_helo_needed:  # the extensions decide how we send
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()
    return client


def _auth_message(settings: SmtpConfig, e: aiosmtplib.SMTPAuthenticationError) -> str:
    return (
        f"{settings.host} refused the login for {settings.username!r}: {e.code} {e.message}; "
        "check [smtp] username and DIGEST_SMTP_PASSWORD"
    )
