"""`digest webhooks add/list/remove/rotate`: endpoints, their event types and secrets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.errors import AccessError

# Every event an endpoint may take, and when it is written.
EVENT_TYPES: dict[str, str] = {
    "subscriber.confirmed": "a reader became active (confirmed, or re-activated)",
    "subscriber.unsubscribed": "a reader left",
    "subscriber.bounced": "a reader's address is gone (a proven hard bounce)",
    "subscriber.complained": "a reader marked an edition as spam",
    "subscriber.forgotten": "a reader was erased (the id only, no address)",
    "edition.frozen": "an edition was frozen for sending",
    "edition.held": "an edition waits for approval",
    "edition.approved": "a held edition was approved",
    "edition.sent": "no delivery of an edition is left to attempt",
    "delivery.stopped": "a send stopped (the relay's set-up, the store): `send --resume`",
}
ROTATION_OVERLAP = timedelta(hours=24)  # the old secret signs too, this long


@dataclass(frozen=True)
class NewEndpoint:
    """An endpoint just made (or its secret just rotated): the only time its secret is
    shown."""

    id: int
    url: str
    events: tuple[str, ...]
    secret: str


def parse_events(given: Iterable[str]) -> tuple[str, ...]:
    """Event types from ``--events a,b``: known ones only, sorted, each once."""
    chosen = {e.strip() for part in given for e in part.split(",") if e.strip()}
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise AccessError(
            f"unknown event {', '.join(unknown)}: use one or more of "
            f"{', '.join(EVENT_TYPES)} (comma-separated)"
        )
    if not chosen:
        raise AccessError("an endpoint needs at least one event: --events subscriber.confirmed")
    return tuple(sorted(chosen))


def add_endpoint(
    db: Database, config: Config, url: str, events: Iterable[str], now: datetime
) -> NewEndpoint:
    """A new endpoint for ``events``; it gets the events written from now on."""
    from digest.hooks.signing import new_secret

    _check_url(url)
    chosen = parse_events(events)
    secret = new_secret()
    with store.transaction(db):
        endpoint_id = store.insert_endpoint(db, url, chosen, secret, now)
    return NewEndpoint(endpoint_id, url, chosen, secret)


def list_endpoints(db: Database) -> list[store.Endpoint]:
    """Every endpoint with where it stands (never a secret: the CLI leaves it out)."""
    return store.endpoints(db)


def remove_endpoint(db: Database, endpoint_id: int) -> None:
    """Stop sending to an endpoint at once (events only it was waiting for go)."""
    with store.transaction(db):
        if not store.delete_endpoint(db, endpoint_id):
            raise AccessError(_missing(endpoint_id))
        store.prune_hook_events(db)


def rotate_endpoint(db: Database, endpoint_id: int, now: datetime) -> NewEndpoint:
    """A new secret; for `ROTATION_OVERLAP` every webhook carries both signatures, so
    the receiver can switch without losing one."""
    from digest.hooks.signing import new_secret

    secret = new_secret()
    with store.transaction(db):
        if not store.rotate_secret(db, endpoint_id, secret, now + ROTATION_OVERLAP):
            raise AccessError(_missing(endpoint_id))
        found = store.endpoint(db, endpoint_id)
    assert found is not None
    return NewEndpoint(found.id, found.url, found.events, secret)


def enable(db: Database, endpoint_id: int) -> None:
    """Send to a disabled endpoint again, from the event it stopped at."""
    with store.transaction(db):
        if not store.enable_endpoint(db, endpoint_id):
            raise AccessError(_missing(endpoint_id))


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AccessError(f"{url!r} is not an http(s) URL: give the receiver's full URL")
    if parts.username or parts.password:
        raise AccessError(
            f"{url!r} carries a user name or password: the signature proves the sender"
        )


def _missing(endpoint_id: int) -> str:
    return f"no webhook endpoint has id {endpoint_id}: `digest webhooks list` names them"
