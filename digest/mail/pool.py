"""Delivery: transports (SMTP with aiosmtplib, or an outbox of .eml files) and the pool.

The pool keeps ``concurrency`` persistent connections, each worker taking jobs from one
queue: a token bucket paces them, 4xx answers and lost connections are retried with
exponential backoff, 5xx answers end that delivery (see `replies` for which of them
are about the reader's address), and the whole run stops when the relay refuses the
sender or the login, refuses `stop_after_refusals` messages in a row, or stops
answering. Every outcome goes to ``on_result`` at once, so the ledger is never more than
the messages in flight behind the wire, except a refusal of an address: that one is held
(its delivery stays open) until the run has shown whether the relay delivers to others,
and `breaker` judges it at the end (it bounces) or stops the run (it stays open).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from digest.errors import DeliveryError
from digest.mail.breaker import Breaker
from digest.mail.replies import Verdict, refusal_hint
from digest.models import DeliveryStatus


@dataclass(frozen=True)
class Job:
    """One message to one subscriber."""

    delivery_id: int
    subscriber_id: int
    recipient: str
    data: bytes
    attempts: int = 0
    unsendable: str = ""  # why this message cannot be sent at all (it fails alone)
    sender: str = ""  # this message's envelope sender (VERP); "" = the pool's
    ready: bool = False  # built by digest: CRLF only, no line starting with "."


@dataclass(frozen=True)
class Outcome:
    """What became of a job: a delivery status and the relay's words. Only "bounced" (a
    refusal of the recipient's own address) says anything about the reader."""

    status: str  # sent, deferred, failed, bounced, skipped
    error: str = ""
    provider_id: str = ""  # the id a provider's API gave the message, for its events


class SendFailure(Exception):
    """A classified failure of one send: the status it leaves, and whether to stop.

    ``relay_refused``: the relay refused for a reason of its own or the message's, not
    the reader's; a run of them in a row stops the send (`PoolSettings.stop_after_refusals`).
    """

    def __init__(
        self,
        status: str,
        message: str,
        *,
        reconnect: bool = False,
        fatal: bool = False,
        relay_refused: bool = False,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reconnect = reconnect
        self.fatal = fatal
        self.relay_refused = relay_refused
        self.hint = hint  # what to check, when this one stops the run

    @classmethod
    def of(cls, verdict: Verdict) -> SendFailure:
        """The failure a reply's verdict (see `replies`) makes."""
        return cls(
            verdict.status,
            verdict.why,
            reconnect=verdict.reconnect,
            fatal=verdict.stops_run,
            relay_refused=verdict.relay_refused,
            hint=refusal_hint(verdict),
        )


class Connection(Protocol):
    """A transport connection: send one message, or raise SendFailure. ``ready`` says
    the bytes are SMTP-ready already (see `bodies.quoted_printable`). A provider's API
    answers with its own id for the message (kept in the ledger: its webhook events
    name the message by it); SMTP and the outbox answer None."""

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: bool = False
    ) -> str | None: ...

    async def close(self) -> None: ...


ConnectionFactory = Callable[[], Awaitable[Connection]]


# ---------------------------------------------------------------- outbox


class OutboxConnection:
    """Writes each message as an .eml file: the embedded default with no SMTP host."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: bool = False
    ) -> str | None:
        """Write the message atomically to ``<folder>/<recipient>.eml``."""
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)
        target = self.folder / f"{safe}.eml"
        tmp = target.with_suffix(".eml.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as e:
            raise SendFailure(
                DeliveryStatus.DEFERRED,
                f"cannot write {target}: {e.strerror}; check [outbox] path",
                fatal=True,
            ) from e
        return None

    async def close(self) -> None:
        """Nothing to close."""


def outbox_factory(folder: Path) -> ConnectionFactory:
    """Connections that write into ``folder``."""

    async def connect() -> Connection:
        return OutboxConnection(folder)

    return connect


# ---------------------------------------------------------------- the pool


class TokenBucket:
    """Paces sends to ``rate`` per second across all workers (0 = no limit)."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        """Wait until one message may go."""
        if self.rate <= 0:
            return
        async with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1
            if self.tokens < 0:  # in debt: wait until the debt has accrued back
                await self.sleep(-self.tokens / self.rate)


@dataclass(frozen=True)
class PoolSettings:
    """How the pool behaves; from [smtp] for SMTP, fixed for the outbox."""

    sender: str
    concurrency: int = 4
    rate: float = 0.0
    max_per_connection: int = 1000
    retries: int = 3
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    rate_per_hour: float = 0.0  # for relays with an hourly quota; 0 = none
    stop_after_refusals: int = 5  # relay refusals in a row (not the readers'): stop the run
    delivered_before: int = 0  # messages of this run's kind delivered by earlier runs


# Asked right before a message goes: a reason to skip it (the subscriber left), or None.
SkipCheck = Callable[[Job], "str | None"]


@dataclass
class _Wire:
    """One worker's connection and how many messages it has carried."""

    conn: Connection | None = None
    sent: int = 0


class _Pool:
    def __init__(
        self,
        connect: ConnectionFactory,
        settings: PoolSettings,
        on_result: Callable[[Job, Outcome], None],
        skip: SkipCheck | None = None,
    ) -> None:
        self.connect = connect
        self.settings = settings
        self._on_result = on_result
        self.skip = skip
        self.broken: BaseException | None = None  # what stopped the recording of outcomes
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=settings.concurrency * 4)
        self.buckets = [TokenBucket(settings.rate)]
        if settings.rate_per_hour > 0:  # a full hour's quota may go at once, then paced
            hourly = settings.rate_per_hour
            self.buckets.append(TokenBucket(hourly / 3600, burst=hourly))
        self.fatal: str | None = None
        self.retry_tasks: set[asyncio.Task[None]] = set()
        self.open: set[Connection] = set()
        self.connect_failures = 0  # in a row, across workers
        self.refused_in_a_row = 0  # the relay refused the message, not the reader
        self.lost_in_a_row = 0  # connections dropped or stalled, with no reply between
        self.breaker = Breaker(settings.stop_after_refusals, settings.delivered_before)
        self.held: list[tuple[Job, SendFailure]] = []  # address refusals, judged at the end

    def on_result(self, job: Job, outcome: Outcome) -> None:
        """Report an outcome; if it cannot be recorded (the store is full or broken),
        stop the run: sending on without a ledger would send again on resume."""
        try:
            self._on_result(job, outcome)
        except Exception as e:
            self.broken = self.broken or e
            self.fatal = self.fatal or f"the outcome could not be recorded: {e}"

    def _skip_reason(self, job: Job) -> str | None:
        if self.skip is None:
            return None
        try:
            return self.skip(job)
        except Exception as e:
            self.broken = self.broken or e
            self.fatal = self.fatal or f"the subscriber could not be checked: {e}"
            return "not checked"

    async def worker(self) -> None:
        """Take jobs until cancelled.

        The invariant `deliver`'s ``queue.join()`` rests on: every job taken from the
        queue is finished (``task_done``) exactly once, here, right after `_take` has
        recorded its outcome, skipped it or left it for the resume; the one exception is
        a job `_take` hands to a retry, which `_retry_later` finishes once the retry is
        back in the queue. So the queue is joined only when no job is waiting, in
        flight or about to be tried again.
        """
        wire = _Wire()
        while True:
            job = await self.queue.get()
            retrying = False
            try:
                retrying = await self._take(job, wire)
            finally:
                if not retrying:
                    self.queue.task_done()

    async def _take(self, job: Job, wire: _Wire) -> bool:
        """Send one job on the worker's connection; True when it went to a retry."""
        if self.fatal:  # stop early: leave the rest pending for a later resume
            return False
        if job.unsendable:
            return self._failed(job, SendFailure(DeliveryStatus.FAILED, job.unsendable))
        reason = self._skip_reason(job)
        if reason is not None:
            if not self.fatal:
                self.on_result(job, Outcome(DeliveryStatus.SKIPPED, reason))
            return False
        if wire.conn is not None and wire.sent >= self.settings.max_per_connection:
            await self._close(wire.conn)
            wire.conn, wire.sent = None, 0
        try:
            if wire.conn is None:
                wire.conn = await self._open()
            for bucket in self.buckets:
                await bucket.take()
            provider_id = await wire.conn.send(
                job.sender or self.settings.sender, job.recipient, job.data, job.ready
            )
        except SendFailure as failure:
            if failure.reconnect and wire.conn is not None:
                await self._close(wire.conn)
                wire.conn, wire.sent = None, 0
            return self._failed(job, failure)
        except Exception as e:  # a bug must not hang the queue; keep the job for resume
            retrying = self._failed(
                job,
                SendFailure(
                    DeliveryStatus.DEFERRED,
                    f"unexpected error: {e!r}",
                    reconnect=True,
                    fatal=True,
                ),
            )
            if wire.conn is not None:
                await self._close(wire.conn)
                wire.conn = None
            return retrying
        wire.sent += 1
        self.refused_in_a_row = self.lost_in_a_row = 0
        self.breaker.delivered()
        self.on_result(job, Outcome(DeliveryStatus.SENT, provider_id=provider_id or ""))
        return False

    async def _open(self) -> Connection:
        try:
            conn = await self.connect()
        except SendFailure as failure:
            self.connect_failures += 1
            # A relay nobody can reach: stop rather than back off message by message.
            if self.connect_failures > self.settings.concurrency * (self.settings.retries + 1):
                failure.fatal = True
            raise
        self.connect_failures = 0
        self.open.add(conn)
        return conn

    async def _close(self, conn: Connection) -> None:
        self.open.discard(conn)
        await _drop(conn)

    async def close_all(self) -> None:
        await asyncio.gather(*(self._close(c) for c in list(self.open)))

    def _failed(self, job: Job, failure: SendFailure) -> bool:
        """Record a failure (or hold it, or leave the job for the resume); True when the
        job went to a retry, which finishes it (see `worker`)."""
        stop = self._in_a_row(failure)
        if failure.status == DeliveryStatus.BOUNCED:
            self._hold(job, failure)
            return False
        if failure.fatal:
            # The relay refuses the run, not this subscriber: leave the job untouched
            # (pending) for the resume, and bounce nobody for it.
            self.fatal = self.fatal or str(failure)
            return False
        retry = failure.status == DeliveryStatus.DEFERRED
        if retry and job.attempts < self.settings.retries and not stop:
            task = asyncio.create_task(self._retry_later(job))
            self.retry_tasks.add(task)
            task.add_done_callback(self.retry_tasks.discard)
            return True
        self.on_result(job, Outcome(failure.status, str(failure)))
        self.fatal = self.fatal or stop
        return False

    def _hold(self, job: Job, failure: SendFailure) -> None:
        """Keep a refusal of the reader's address for the end of the run (its delivery
        stays open meanwhile); stop the run when the breaker says it is the relay's."""
        self.held.append((replace(job, data=b""), failure))
        why = self.breaker.refusal(job.recipient, str(failure))
        if why:
            self.fatal = self.fatal or self._held_message(why, failure)

    def _held_message(self, why: str, failure: SendFailure) -> str:
        return (
            f"{why}; such refusals are the relay's set-up, not evidence about the readers: "
            f"{failure.hint}. Nobody was taken off the list: the {len(self.held)} refused "
            "stay open and go again with the rest"
        )

    def settle(self) -> None:
        """Judge the held refusals with the whole run in view: each bounces its reader
        when the relay showed it delivers to others; else all stay open (deferred) and
        the run stops (see `breaker`)."""
        if not self.held or self.broken is not None:
            return  # unrecorded, they stay pending: open for the resume
        why = self.breaker.verdict()
        for job, failure in self.held:
            if why:
                self.on_result(job, Outcome(DeliveryStatus.DEFERRED, f"held: {failure}"))
            else:
                self.on_result(job, Outcome(DeliveryStatus.BOUNCED, str(failure)))
        if why:
            self.fatal = self.fatal or self._held_message(why, self.held[-1][1])

    def _in_a_row(self, failure: SendFailure) -> str:
        """Why the run must stop: a run of relay refusals, or of connections lost with
        no reply between (a relay that connects and then stops answering); else ""."""
        if failure.status == DeliveryStatus.BOUNCED:  # the relay answered, about one reader
            self.refused_in_a_row = self.lost_in_a_row = 0
        elif failure.relay_refused:
            self.lost_in_a_row = 0
            self.refused_in_a_row += 1
            if self.refused_in_a_row >= self.settings.stop_after_refusals:
                return (
                    f"the relay refused {self.refused_in_a_row} messages in a row, the "
                    f"last with {failure}; {failure.hint}. Nobody was taken off the list"
                )
        elif failure.reconnect:
            self.lost_in_a_row += 1
            if self.lost_in_a_row > 2 * self.settings.concurrency:
                return (
                    f"the relay stopped answering: {self.lost_in_a_row} connections in a "
                    f"row ended with no reply ({failure}); check that it is up and "
                    "reachable, and its log"
                )
        return ""

    async def _retry_later(self, job: Job) -> None:
        await asyncio.sleep(self.settings.backoff * 2**job.attempts)
        await self.queue.put(replace(job, attempts=job.attempts + 1))
        self.queue.task_done()  # the first try is finished once the retry is queued


async def _stop(workers: list[asyncio.Task[None]]) -> None:
    """Cancel the workers until they are all done: on Python 3.11 a cancellation that
    lands while `wait_for` finishes can be swallowed, and a worker would then wait on
    the queue forever."""
    pending = set(workers)
    while pending:
        for worker in pending:
            worker.cancel()
        _, pending = await asyncio.wait(pending, timeout=1)


async def _drop(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # the connection is already broken
        await asyncio.wait_for(conn.close(), timeout=2)


async def deliver(
    jobs: Iterable[Job],
    connect: ConnectionFactory,
    settings: PoolSettings,
    on_result: Callable[[Job, Outcome], None],
    skip: SkipCheck | None = None,
) -> None:
    """Send every job through a pool of connections; report each outcome as it comes.

    ``skip`` is asked right before each message goes out. Raises DeliveryError after
    the pool stops early because the relay refuses the run; if ``on_result`` or
    ``skip`` raises (the store cannot be written), the pool stops within the messages
    in flight and that error is raised. Jobs not yet tried stay untouched for a resume.
    """
    pool = _Pool(connect, settings, on_result, skip)
    workers = [asyncio.create_task(pool.worker()) for _ in range(settings.concurrency)]
    try:
        for job in jobs:
            if pool.fatal:
                break
            await pool.queue.put(job)
        await pool.queue.join()
    finally:
        await _stop(workers)
        await pool.close_all()
    pool.settle()
    if pool.broken is not None:
        raise pool.broken
    if pool.fatal:
        raise DeliveryError(f"Delivery stopped: {pool.fatal}.")
