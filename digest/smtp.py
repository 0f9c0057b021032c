"""The SMTP transport: connections to one or more relays, opened by aiosmtplib and run by
`smtpwire`, their failures classified for the pool.

`[smtp] host` may name several relays (`a.example.net, b.example.net:2525`): each new
connection goes to the next relay in turn; one that refuses or drops connections is
set aside for a while (`SET_ASIDE`) and the others carry its messages; the run stops
only when none can be reached.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import aiosmtplib

from digest.config import Relay, SmtpConfig, parse_relays
from digest.mailer import Connection, ConnectionFactory, SendFailure
from digest.smtpwire import WireClient

SET_ASIDE = 60.0  # seconds a relay that failed is left alone while others work


class SmtpConnection:
    """One persistent connection (opened by aiosmtplib, run by `smtpwire`) with its
    failures classified."""

    def __init__(self, client: WireClient, on_lost: Callable[[], None] = lambda: None) -> None:
        self.client = client
        self.on_lost = on_lost  # the relay dropped us: set it aside for a while

    async def send(self, sender: str, recipient: str, data: bytes, ready: bool = False) -> None:
        """Send one message; map the relay's answer to a SendFailure."""
        if not recipient.isascii() and not self.client.supports("smtputf8"):
            raise SendFailure(
                "failed",
                f"{recipient} has a non-ASCII local part and the relay does not offer "
                "SMTPUTF8; use a relay that does, or ask the reader for another address",
                blames_recipient=False,
            )
        if not ready:  # bytes digest did not build: repair line ends, stuff dots
            data = smtp_ready(data)
        try:
            await self.client.send(sender, recipient, data)
        except aiosmtplib.SMTPRecipientsRefused as e:
            refusal = e.recipients[0] if e.recipients else None
            code = refusal.code if refusal else 550
            raise SendFailure(_by_code(code, "bounced"), f"RCPT refused: {refusal}") from e
        except aiosmtplib.SMTPSenderRefused as e:
            status = _by_code(e.code, "failed")
            raise SendFailure(
                status, f"MAIL FROM refused: {e.code} {e.message}", fatal=status != "deferred"
            ) from e
        except aiosmtplib.SMTPDataError as e:
            raise SendFailure(
                _by_code(e.code, "failed"), f"DATA refused: {e.code} {e.message}"
            ) from e
        except (
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            ConnectionError,
            TimeoutError,
            OSError,
        ) as e:
            self.on_lost()
            raise SendFailure("deferred", f"connection lost: {e}", reconnect=True) from e
        except aiosmtplib.SMTPResponseException as e:
            raise SendFailure(
                _by_code(e.code, "failed"), f"{e.code} {e.message}", reconnect=e.code == 421
            ) from e

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


def _by_code(code: int, permanent: str) -> str:
    return "deferred" if 400 <= code < 500 else permanent


class RelaySet:
    """The relays in turn, each set aside for a while after it fails."""

    def __init__(self, relays: list[Relay], clock: Callable[[], float] = time.monotonic):
        self.relays = relays
        self.clock = clock
        self.aside: dict[Relay, float] = {}
        self.turn = 0

    def order(self) -> list[Relay]:
        """Relays to try for the next connection: the next in turn first, those set
        aside last (they are tried when nothing else works)."""
        start = self.turn % len(self.relays)
        self.turn += 1
        rotated = self.relays[start:] + self.relays[:start]
        now = self.clock()
        return sorted(rotated, key=lambda r: self.aside.get(r, 0) > now)

    def set_aside(self, relay: Relay) -> None:
        """Leave ``relay`` alone for `SET_ASIDE` seconds."""
        self.aside[relay] = self.clock() + SET_ASIDE


def smtp_factory(settings: SmtpConfig) -> ConnectionFactory:
    """Connections to the configured relay (or relays, in turn), with TLS and login."""
    relays = RelaySet(parse_relays(settings.host, settings.port))

    async def connect() -> Connection:
        problems = []
        for relay in relays.order():
            try:
                client = await _open(replace(settings, host=relay.host, port=relay.port))
            except aiosmtplib.SMTPAuthenticationError as e:
                raise SendFailure("deferred", _auth_message(settings, e), fatal=True) from e
            except (aiosmtplib.SMTPException, OSError) as e:
                relays.set_aside(relay)
                problems.append(f"{relay}: {e}")
                continue
            return SmtpConnection(
                WireClient(client, settings.timeout), partial(relays.set_aside, relay)
            )
        raise SendFailure(
            "deferred",
            f"cannot connect to {'; '.join(problems)}; check [smtp] host, port and tls",
            reconnect=True,
        )

    return connect


async def _open(settings: SmtpConfig) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        timeout=settings.timeout,
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
