"""Delivering a frozen edition: take the shard's lock, stream its open deliveries from
the ledger, build each message, send through the pool, record every outcome at once.

Only messages on the wire when a sender dies can go twice, and they carry the same
Message-ID. A sender that died on this host is recognised at once (its pid is gone);
one on another host after its lease (``LOCK_TTL``) runs out.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from digest import store
from digest.addresses import ascii_domain
from digest.config import Config
from digest.errors import EditionLockedError, HeaderError
from digest.mail.dkimsign import sign_message
from digest.mail.message import PreparedVariant, build_message, prepare_variant
from digest.mail.pool import Job, Outcome
from digest.mail.transports import Shard, pool_settings, send_messages
from digest.models import Clock, DeliveryStatus, SubscriberStatus
from digest.tokens import Sent, verp_address

Progress = Callable[[int, int], None]  # (done, total) for this run
LOCK_TTL = timedelta(minutes=10)
_RENEW_EVERY = 60.0  # seconds between lease renewals
_running: set[str] = set()  # lock owners of the senders running in this process


def deliver_edition(
    config: Config,
    db: Database,
    week: str,
    edition_id: int,
    clock: Clock,
    shard: Shard = (1, 1),
    progress: Progress | None = None,
) -> None:
    """Send every open delivery of ``shard`` of a frozen edition, holding its lock."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    label = f"{shard[0]}/{shard[1]}"
    holder = acquire_lock(db, edition_id, label, owner, clock())
    if holder is not None:
        raise EditionLockedError(
            f"Edition {week} (shard {label}) is being sent by another process ({holder}). "
            "Wait for it to finish; if it died on another machine, run `send --resume` "
            f"after its lease of {int(LOCK_TTL.total_seconds() // 60)} minutes runs out."
        )
    _running.add(owner)
    try:
        with store.writes(f"sending {week}"):
            _deliver(
                config,
                db,
                week,
                edition_id,
                clock,
                shard,
                progress,
                lambda: store.renew_lock(db, edition_id, label, owner, clock() + LOCK_TTL),
            )
    finally:
        _running.discard(owner)
        # If the store cannot take even this write, the lock is stale from now on:
        # its holder is gone (this process ends, or, in it, `_running` no longer has it).
        with contextlib.suppress(sqlite3.Error):
            store.release_lock(db, edition_id, label, owner)


def acquire_lock(
    db: Database,
    edition_id: int,
    shard: str,
    owner: str,
    now: datetime,
    is_gone: Callable[[str], bool] | None = None,
) -> str | None:
    """Take the send lock of an edition's shard; None when taken, else the holder.

    A lock whose lease ran out, or whose holder ``is_gone`` says is gone (default: a
    process on this host that no longer runs), is taken over by compare-and-swap on
    the old holder, so two takers cannot both win.
    """
    gone = is_gone or holder_is_gone
    expires = now + LOCK_TTL
    # Shards of another count overlap this one (1/1 holds everyone 1/2 holds): a live
    # sender on any of them keeps this one out.
    count = shard.partition("/")[2]
    for other, other_owner, lease in store.edition_locks(db, edition_id):
        if other.partition("/")[2] != count and lease >= now and not gone(other_owner):
            return other_owner
    holder = ""
    for _ in range(3):  # the row may vanish or change hands between the steps
        if store.insert_lock(db, edition_id, shard, owner, expires):
            return None
        current = store.lock_holder(db, edition_id, shard)
        if current is None:
            continue
        holder, lease = current
        if holder != owner and lease >= now and not gone(holder):
            return holder
        if store.swap_lock_holder(db, edition_id, shard, holder, owner, expires):
            return None
    return holder


def holder_is_gone(holder: str) -> bool:
    """True when the lock's holder was a process on this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():  # ours: gone unless a sender in this process still runs
        return holder not in _running
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet: it sends nothing any more."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (not Linux), or gone in between
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _deliver(
    config: Config,
    db: Database,
    week: str,
    edition_id: int,
    clock: Clock,
    shard: Shard,
    progress: Progress | None,
    renew: Callable[[], None],
) -> None:
    now = clock()
    total = store.open_delivery_count(db, edition_id, shard)
    done = 0
    renewed = time.monotonic()

    def on_result(job: Job, outcome: Outcome) -> None:
        nonlocal done, renewed
        stamp = clock()
        store.record_delivery(
            db, job.delivery_id, outcome.status, outcome.error, stamp, outcome.provider_id
        )
        if outcome.status == DeliveryStatus.BOUNCED:  # the relay refused the address itself
            store.bounce_subscribers(db, [job.subscriber_id], stamp)
        done += 1
        if time.monotonic() - renewed > _RENEW_EVERY:
            renew()
            renewed = time.monotonic()
        if progress:
            progress(done, total)

    def skipped(n: int) -> None:
        nonlocal done
        done += n
        if progress and n:
            progress(done, total)

    def left_meanwhile(job: Job) -> str | None:
        # Asked right before each message: an unsubscribe that arrives mid-send counts.
        status = store.subscriber_status(db, job.subscriber_id)
        if status == SubscriberStatus.ACTIVE:
            return None
        return f"{status or 'erased'} after the edition was frozen"

    jobs = _jobs(config, db, week, edition_id, now, clock, shard, skipped)
    # What earlier runs delivered is evidence the relay delivers, for a resume with only
    # refused readers left (see `breaker`).
    sent = store.delivery_counts(db, edition_id).get(DeliveryStatus.SENT, 0)
    send_messages(
        config,
        jobs,
        on_result,
        outbox=config.outbox_path / week,
        settings=replace(pool_settings(config, shard), delivered_before=sent),
        skip=left_meanwhile,
    )


def _jobs(
    config: Config,
    db: Database,
    week: str,
    edition_id: int,
    now: datetime,
    clock: Clock,
    shard: Shard,
    skipped: Callable[[int], None],
) -> Iterator[Job]:
    """The shard's open deliveries as jobs, a variant at a time: each variant is read
    from the store and prepared once, and only one is held (memory flat in the number
    of topic choices). Those who left meanwhile, and deliveries of a variant the
    edition has no rendering of, are recorded skipped (and counted done, ``skipped``)."""

    def skip(gone: list[store.OpenDelivery]) -> None:
        if gone:
            store.record_deliveries(
                db, [(d.id, DeliveryStatus.SKIPPED, _gone_reason(d)) for d in gone], clock()
            )
            skipped(len(gone))

    for key in store.edition_variant_keys(db, edition_id):
        variant = store.edition_variant(db, edition_id, key)
        if variant is None:  # cannot happen within one edition; the last pass skips them
            continue
        prepared = prepare_variant(config, variant, week, now)
        del variant
        for batch in store.open_deliveries(db, edition_id, shard, variant=key):
            skip([d for d in batch if d.subscriber.status != SubscriberStatus.ACTIVE])
            for d in batch:
                if d.subscriber.status == SubscriberStatus.ACTIVE:
                    yield _job(config, prepared, d, edition_id)
        del prepared  # before the next is prepared: one held at a time
    for batch in store.open_deliveries(db, edition_id, shard, unstored_variants=True):
        skip(batch)


def _gone_reason(d: store.OpenDelivery) -> str:
    """Why an open delivery is skipped: its reader's state since the freeze."""
    if d.subscriber.status == SubscriberStatus.LAPSED:
        return "lapsed after the edition was frozen (no answer to the re-permission email)"
    if d.subscriber.status != SubscriberStatus.ACTIVE:
        return "left the list after the edition was frozen"
    return "its copy was not rendered"


def _job(config: Config, prepared: PreparedVariant, d: store.OpenDelivery, edition_id: int) -> Job:
    """One subscriber's message. An address stored before domains were kept in their
    ASCII form goes out in it; one that cannot be encoded fails alone, never the run.
    With a return path configured, the envelope sender names the subscriber and the
    edition, signed (VERP)."""
    try:
        subscriber = replace(d.subscriber, email=ascii_domain(d.subscriber.email))
        data = sign_message(config, build_message(config, prepared, subscriber))
    except (UnicodeError, HeaderError) as e:
        return Job(d.id, d.subscriber.id, d.subscriber.email, b"", 0, f"cannot be encoded: {e}")
    sender = (
        verp_address(
            config.secret,
            config.list_id,
            config.return_path,
            d.subscriber.id,
            Sent(edition=edition_id),
        )
        if config.verp
        else ""
    )
    return Job(d.id, d.subscriber.id, subscriber.email, data, 0, sender=sender, ready=True)
