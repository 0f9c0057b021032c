"""One way to deliver: "send these messages with this configuration". The transport the
configuration names (the relay over SMTP, else an outbox of .eml files), the pool its
settings make, and the run loop, for editions, test copies and one-off notices alike.
This is the seam where other transports plug in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from digest.config import Config
from digest.mail.pool import (
    ConnectionFactory,
    Job,
    Outcome,
    PoolSettings,
    SkipCheck,
    deliver,
    outbox_factory,
)
from digest.mail.smtp import smtp_factory
from digest.relays import parse_relays

Shard = tuple[int, int]  # (i, n): subscribers whose id is i-1 modulo n


def connections(config: Config, outbox: Path) -> ConnectionFactory:
    """The configured transport: a provider's API (`[delivery] transport`), the relay
    when `[smtp] host` is set, else .eml files in ``outbox``."""
    if config.delivery.transport == "ses":
        from digest.mail.ses import ses_factory  # boto3 loads only for SES

        return ses_factory(config)
    if config.delivery.transport == "mailgun":
        from digest.mail.mailgun import mailgun_factory

        return mailgun_factory(config)
    if config.smtp.host:
        return smtp_factory(config.relay)
    return outbox_factory(outbox)


def transport_name(config: Config, outbox: Path) -> str:
    """Where `connections` sends, in words for the user: the provider's API, the relays,
    or the outbox folder."""
    if config.delivery.transport == "ses":
        region = config.ses.region or "the region of the AWS environment"
        return f"Amazon SES API ({region})"
    if config.delivery.transport == "mailgun":
        return f"Mailgun API ({config.mailgun.domain} at {config.mailgun.base_url})"
    if config.smtp.host:
        relays = ", ".join(str(r) for r in parse_relays(config.smtp.host, config.smtp.port))
        return f"SMTP relay {relays}"
    return f"outbox {outbox}"


def pool_settings(
    config: Config, shard: Shard = (1, 1), *, retries: int | None = None
) -> PoolSettings:
    """The pool for this configuration; rate limits are split evenly over the shards.
    ``retries`` overrides `[smtp] retries` (a one-off email waits for the next pass).
    A provider's API takes its concurrency and rate from its own section; retries and
    the refusals that stop a run are [smtp]'s for every transport."""
    s = config.smtp
    api = {
        "ses": (config.ses.concurrency, config.ses.rate),
        "mailgun": (config.mailgun.concurrency, config.mailgun.rate),
    }.get(config.delivery.transport)
    if api is not None:
        return PoolSettings(
            config.return_path,
            api[0],
            api[1] / shard[1],
            max_per_connection=100_000,
            retries=s.retries if retries is None else retries,
            stop_after_refusals=s.stop_after_refusals,
        )
    if not config.smtp.host:
        return PoolSettings(sender=config.return_path, concurrency=1, retries=0)
    return PoolSettings(
        config.return_path,
        s.concurrency,
        s.rate / shard[1],
        s.max_per_connection,
        s.retries if retries is None else retries,
        rate_per_hour=s.rate_per_hour / shard[1],
        stop_after_refusals=s.stop_after_refusals,
    )


def send_messages(
    config: Config,
    jobs: Iterable[Job],
    on_result: Callable[[Job, Outcome], None],
    *,
    outbox: Path,
    settings: PoolSettings | None = None,
    skip: SkipCheck | None = None,
) -> None:
    """Deliver ``jobs`` with this configuration, reporting each outcome as it comes;
    ``outbox`` is where the .eml files go when no relay is set. Raises DeliveryError
    when the transport refuses the whole run."""
    transport = connections(config, outbox)
    asyncio.run(deliver(jobs, transport, settings or pool_settings(config), on_result, skip))
