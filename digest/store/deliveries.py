"""The delivery ledger: one row per edition and subscriber, each outcome committed at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.models import OPEN_STATUSES, Subscriber
from digest.store.columns import to_db_time, transaction
from digest.store.subscribers import subscriber_from_row

OPEN = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"  # for SQL


@dataclass(frozen=True)
class OpenDelivery:
    """A delivery still to be attempted, with its subscriber."""

    id: int
    variant: str
    attempts: int
    subscriber: Subscriber


def open_deliveries(
    db: Database,
    edition_id: int,
    shard: tuple[int, int] = (1, 1),
    batch_size: int = 1000,
    *,
    variant: str | None = None,
    unstored_variants: bool = False,
) -> Iterator[list[OpenDelivery]]:
    """Deliveries of one shard still to be attempted (pending, deferred, or failed by
    the relay: see `OPEN`), in batches, by subscriber id: of one ``variant`` when given
    (through its index: a sender walks the ledger a variant at a time), or with
    ``unstored_variants`` those whose variant the edition has no rendering of.

    Shard ``(i, n)`` holds the subscribers whose id is ``i - 1`` modulo ``n``.
    """
    index, count = shard
    source, extra, params = "deliveries d", "", list[Any]()
    if variant is not None:
        source, extra, params = (
            "deliveries d INDEXED BY deliveries_variant",
            "AND d.variant = ?",
            [variant],
        )
    elif unstored_variants:
        extra = "AND d.variant NOT IN (SELECT key FROM edition_variants WHERE edition_id = ?)"
        params = [edition_id]
    after = -1
    while True:
        rows = list(
            db.query(
                f"SELECT d.id AS delivery_id, d.variant, d.attempts, s.* FROM {source} "
                "JOIN subscribers s ON s.id = d.subscriber_id "
                f"WHERE d.edition_id = ? {extra} AND d.status IN {OPEN} "
                "AND d.subscriber_id > ? AND d.subscriber_id % ? = ? "
                "ORDER BY d.subscriber_id LIMIT ?",
                [edition_id, *params, after, count, index - 1, batch_size],
            )
        )
        if not rows:
            return
        after = rows[-1]["id"]
        yield [
            OpenDelivery(r["delivery_id"], r["variant"], r["attempts"], subscriber_from_row(r))
            for r in rows
        ]


def open_delivery_count(db: Database, edition_id: int, shard: tuple[int, int] = (1, 1)) -> int:
    """How many deliveries of one shard are still to be attempted."""
    rows = db.query(
        "SELECT count(*) AS n FROM deliveries WHERE edition_id = ? "
        f"AND status IN {OPEN} AND subscriber_id % ? = ?",
        [edition_id, shard[1], shard[0] - 1],
    )
    return int(next(rows)["n"])


def open_delivery_counts_by_shard(db: Database, edition_id: int, shards: int) -> list[int]:
    """How many deliveries are still to be attempted in each of ``shards`` shards (the
    first shard's count first), in one pass over the edition's open rows."""
    counts = [0] * shards
    for index, n in db.conn.execute(
        f"SELECT subscriber_id % ?, count(*) FROM deliveries WHERE edition_id = ? "
        f"AND status IN {OPEN} GROUP BY 1",
        (shards, edition_id),
    ):
        counts[int(index)] = int(n)
    return counts


def record_delivery(
    db: Database,
    delivery_id: int,
    status: str,
    error: str,
    now: datetime,
    provider_id: str = "",
) -> None:
    """Write one outcome (and the provider's id for the message, when its API gave one)
    and commit it: the ledger never lags the wire."""
    db.conn.execute(
        "UPDATE deliveries SET status = ?, last_error = ?, attempts = attempts + 1, "
        "updated_at = ?, provider_id = CASE WHEN ? != '' THEN ? ELSE provider_id END "
        "WHERE id = ?",
        (status, error, to_db_time(now), provider_id, provider_id, delivery_id),
    )
    db.conn.commit()


def delivery_for_provider_id(db: Database, provider_id: str) -> tuple[int, int] | None:
    """(edition id, subscriber id) of the message a provider's API named ``provider_id``."""
    if not provider_id:
        return None
    row = db.conn.execute(
        "SELECT edition_id, subscriber_id FROM deliveries WHERE provider_id = ? LIMIT 1",
        (provider_id,),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def record_deliveries(
    db: Database, outcomes: Sequence[tuple[int, str, str]], now: datetime
) -> None:
    """Write (delivery id, status, error) outcomes in one transaction."""
    stamp = to_db_time(now)
    with transaction(db):
        db.conn.executemany(
            "UPDATE deliveries SET status = ?, last_error = ?, attempts = attempts + 1, "
            "updated_at = ? WHERE id = ?",
            [(status, error, stamp, delivery_id) for delivery_id, status, error in outcomes],
        )


def delivery_status(db: Database, edition_id: int, subscriber_id: int) -> str | None:
    """The ledger's status of one edition's delivery to one subscriber, if there is one."""
    row = db.conn.execute(
        "SELECT status FROM deliveries WHERE edition_id = ? AND subscriber_id = ?",
        (edition_id, subscriber_id),
    ).fetchone()
    return str(row[0]) if row else None


def delivery_counts(db: Database, edition_id: int) -> dict[str, int]:
    """Deliveries of an edition by status."""
    rows = db.query(
        "SELECT status, count(*) AS n FROM deliveries WHERE edition_id = ? GROUP BY status",
        [edition_id],
    )
    return {r["status"]: r["n"] for r in rows}


def undelivered_reasons(
    db: Database, edition_id: int, limit: int = 3
) -> list[tuple[str, str, int]]:
    """(status, last error, count) of an edition's open deliveries, the commonest first."""
    rows = db.query(
        f"SELECT status, last_error, count(*) AS n FROM deliveries WHERE edition_id = ? "
        f"AND status IN {OPEN} GROUP BY status, last_error ORDER BY n DESC LIMIT ?",
        [edition_id, limit],
    )
    return [(r["status"], r["last_error"] or "", r["n"]) for r in rows]


def skipped_deliveries(db: Database, edition_id: int) -> list[tuple[str, str]]:
    """(email, reason) of an edition's skipped deliveries, by subscriber."""
    rows = db.query(
        "SELECT s.email, d.last_error FROM deliveries d JOIN subscribers s "
        "ON s.id = d.subscriber_id WHERE d.edition_id = ? AND d.status = 'skipped' "
        "ORDER BY d.subscriber_id",
        [edition_id],
    )
    return [(r["email"], r["last_error"]) for r in rows]


def accepted_by_domain(db: Database, edition_id: int) -> dict[str, int]:
    """{recipient domain (lower-case): copies the relay or provider accepted} of one
    edition."""
    rows = db.conn.execute(
        "SELECT lower(substr(s.email, instr(s.email, '@') + 1)) AS domain, count(*) "
        "FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
        "WHERE d.edition_id = ? AND d.status = 'sent' GROUP BY domain",
        [edition_id],
    ).fetchall()
    return {str(domain): int(n) for domain, n in rows}
