"""The sender: each endpoint's events in the order they were written, at least once.

An endpoint's cursor moves past an event only after its receiver answered 2xx (or the
event is not one of its types), in a transaction of its own after the POST: a sender
killed at any point sends that event again, under the same ``webhook-id`` and with the
same body, and never skips one. A failure holds the endpoint's later events (the
order is kept) and is tried again on the specification's schedule (5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 14 h, 20 h, 24 h: about three days, each delay with up to 10 % jitter);
after the last, or at a ``410 Gone``, the endpoint is disabled (`webhooks list` says
why; `webhooks enable` resumes it where it stopped). A 3xx is a failure, never
followed. Targets on loopback, private or link-local addresses are refused unless
`[webhooks] allow_private_targets` (the fetch guard, `fetching.Reach`). One sender at
a time holds an endpoint (a lease in the store, renewed each event and outlived by a
sender that was killed), so `serve` and `digest run` at once keep its order.
"""

from __future__ import annotations

import json
import random
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.fetching import Reach, open_url, user_agent
from digest.errors import AccessError, Unreachable
from digest.hooks.signing import headers
from digest.models import Clock

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
JITTER = 0.1
MAX_ANSWER = 64 * 1024  # of a receiver's answer body, read and dropped
LEASE_MARGIN = 30.0  # seconds a sender holds an endpoint beyond two attempts' timeouts


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: the status, and Retry-After in seconds (0: none)."""

    status: int
    retry_after: float = 0.0


Poster = Callable[[str, bytes, dict[str, str], float], Answer]


@dataclass
class HookReport:
    """One pass of the sender."""

    delivered: int = 0
    failed: int = 0
    waiting: int = 0  # endpoints holding events until their next attempt
    disabled: list[str] = field(default_factory=list)  # "URL: why"
    problems: list[str] = field(default_factory=list)  # "URL: what failed"
    busy: int = 0  # endpoints another sender was at

    def line(self) -> str:
        said = f"{self.delivered} delivered, {self.failed} failed, {self.waiting} waiting to retry"
        if self.disabled:
            said += "; disabled: " + "; ".join(self.disabled)
        return said


def http_poster(config: Config) -> Poster:
    """POST through the fetch guard, no redirect followed."""
    reach = Reach(
        allow_private=config.webhooks.allow_private_targets,
        setting="[webhooks] allow_private_targets",
    )
    agent = user_agent(config)

    def post(url: str, body: bytes, sent: dict[str, str], timeout: float) -> Answer:
        request = urllib.request.Request(
            url, data=body, headers={**sent, "User-Agent": agent}, method="POST"
        )
        try:
            with open_url(request, reach, timeout, redirects=False) as response:
                response.read(MAX_ANSWER)
                return Answer(int(response.status))
        except urllib.error.HTTPError as e:
            with e:
                return Answer(int(e.code), _seconds(e.headers.get("Retry-After", "")))

    return post


def deliver(
    db: Database,
    config: Config,
    clock: Clock,
    *,
    poster: Poster | None = None,
    rng: random.Random | None = None,
    most: int = 10_000,
) -> HookReport:
    """Deliver what each enabled endpoint is due, oldest first (at most ``most`` an
    endpoint a pass), then drop the events every endpoint is past."""
    post = poster or http_poster(config)
    jitter = rng or random.Random()
    report = HookReport()
    holder = secrets.token_hex(8)
    for found in store.endpoints(db, enabled_only=True):
        try:
            _endpoint(db, config, clock, found, post, jitter, most, report, holder)
        finally:
            with store.transaction(db):
                store.release_lease(db, found.id, holder)
    with store.transaction(db):
        store.prune_hook_events(db)
    return report


def _endpoint(
    db: Database,
    config: Config,
    clock: Clock,
    found: store.Endpoint,
    post: Poster,
    jitter: random.Random,
    most: int,
    report: HookReport,
    holder: str,
) -> None:
    endpoint: store.Endpoint | None = found
    for _ in range(most):
        if endpoint is None or not endpoint.enabled:
            return
        now = clock()
        lease = now + timedelta(seconds=2 * config.webhooks.timeout + LEASE_MARGIN)
        with store.transaction(db):
            if not store.take_lease(db, endpoint.id, holder, now, lease):
                report.busy += 1
                return  # another sender (serve, or a run) is at this endpoint: the order
        if endpoint.next_attempt_at and endpoint.next_attempt_at > store.to_db_time(now):
            report.waiting += 1
            return
        event = store.next_event(db, endpoint.cursor)
        if event is None:
            return
        if event.type not in endpoint.events:
            with store.transaction(db):
                store.advance(db, endpoint.id, event.id, delivered=False)
            endpoint = store.endpoint(db, endpoint.id)
            continue
        problem, answer = _attempt(config, endpoint, event, now, post)
        with store.transaction(db):
            if problem == "":
                store.advance(db, endpoint.id, event.id, delivered=True)
                report.delivered += 1
            elif answer is not None and answer.status == 410:
                store.failed_attempt(db, endpoint.id, "410 Gone: the receiver wants no more", None)
                report.disabled.append(f"{endpoint.url}: 410 Gone")
            else:
                report.failed += 1
                report.problems.append(f"{endpoint.url}: {problem}")
                next_at = _next_attempt(endpoint.attempts, now, answer, jitter)
                if next_at is None:
                    why = f"failing for {_span()} ({problem})"
                    report.disabled.append(f"{endpoint.url}: {why}")
                    store.failed_attempt(db, endpoint.id, why, None)
                else:
                    store.failed_attempt(db, endpoint.id, problem, next_at)
        endpoint = store.endpoint(db, endpoint.id)
        if problem:
            return  # the later events wait behind this one: the order is kept


def _attempt(
    config: Config, endpoint: store.Endpoint, event: store.HookEvent, now: datetime, post: Poster
) -> tuple[str, Answer | None]:
    """("" and the answer) when delivered; else what failed."""
    body = event.body.encode("utf-8")
    keys = [endpoint.secret]
    if endpoint.old_secret and endpoint.old_until > store.to_db_time(now):
        keys.append(endpoint.old_secret)
    sent = headers(keys, event.msg_id, now, body)
    try:
        answer = post(endpoint.url, body, sent, config.webhooks.timeout)
    except Unreachable as e:
        return f"refused: {e}", None
    except (OSError, urllib.error.URLError) as e:  # connection refused, reset, timeout
        return f"no answer: {e}", None
    if 200 <= answer.status < 300:
        return "", answer
    return f"answered {answer.status}", answer


def _next_attempt(
    failures_before: int, now: datetime, answer: Answer | None, jitter: random.Random
) -> datetime | None:
    if failures_before >= len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[failures_before].total_seconds()
    delay *= 1 + jitter.uniform(0, JITTER)
    if answer is not None and answer.retry_after:
        delay = max(delay, min(answer.retry_after, RETRY_DELAYS[-1].total_seconds()))
    return now + timedelta(seconds=delay)


def _span() -> str:
    hours = sum(d.total_seconds() for d in RETRY_DELAYS) / 3600
    return f"{hours:.0f} hours"


def _seconds(value: str) -> float:
    return float(value) if value.strip().isdigit() else 0.0


def send_test(
    db: Database, config: Config, endpoint_id: int, now: datetime, poster: Poster | None = None
) -> tuple[str, str]:
    """`webhooks test`: one signed ``webhook.test`` to an endpoint now, nothing stored;
    (msg id, "" or what failed)."""
    found = store.endpoint(db, endpoint_id)
    if found is None:
        raise AccessError(
            f"no webhook endpoint has id {endpoint_id}: `digest webhooks list` names them"
        )
    stamp = store.to_db_time(now)
    body = json.dumps(
        {"type": "webhook.test", "timestamp": stamp, "data": {"endpoint_id": endpoint_id}},
        separators=(",", ":"),
        sort_keys=True,
    )
    event = store.HookEvent(0, f"msg_{secrets.token_hex(12)}", "webhook.test", body)
    problem, _ = _attempt(config, found, event, now, poster or http_poster(config))
    return event.msg_id, problem
