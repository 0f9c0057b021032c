"""The pool with injected connections: retries, bounces, a refusing relay, the rate."""

import asyncio
from dataclasses import dataclass, field

import pytest

from digest.errors import DeliveryError
from digest.mail.pool import Job, Outcome, PoolSettings, SendFailure, TokenBucket, deliver


@dataclass
class Script:
    """Per-recipient answers: a list consumed one per attempt; None = accept."""

    answers: dict[str, list[SendFailure | None]] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)
    connects: int = 0


class FakeConnection:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def send(self, sender: str, recipient: str, data: bytes, ready: bool = False) -> None:
        answers = self.script.answers.get(recipient, [])
        answer = answers.pop(0) if answers else None
        if answer is not None:
            raise answer
        self.script.delivered.append(recipient)

    async def close(self) -> None:
        pass


def _run(script: Script, jobs: list[Job], **settings: object) -> dict[str, Outcome]:
    results: dict[str, Outcome] = {}

    async def connect() -> FakeConnection:
        script.connects += 1
        return FakeConnection(script)

    options = {"sender": "s@example.org", "concurrency": 2, "backoff": 0.01, **settings}
    asyncio.run(
        deliver(
            jobs,
            connect,
            PoolSettings(**options),  # type: ignore[arg-type]
            lambda job, outcome: results.__setitem__(job.recipient, outcome),
        )
    )
    return results


def _jobs(n: int) -> list[Job]:
    return [Job(i, i, f"r{i}@example.org", b"x") for i in range(n)]


def test_every_job_gets_exactly_one_outcome() -> None:
    script = Script()
    results = _run(script, _jobs(50))
    assert len(results) == 50 and {o.status for o in results.values()} == {"sent"}
    assert sorted(script.delivered) == sorted(f"r{i}@example.org" for i in range(50))


def test_4xx_is_retried_then_sent_and_5xx_is_final() -> None:
    script = Script(
        {
            "r1@example.org": [
                SendFailure("deferred", "451 later"),
                SendFailure("deferred", "451"),
            ],
            "r2@example.org": [SendFailure("bounced", "550 no such user")],
            "r3@example.org": [SendFailure("deferred", "421 bye", reconnect=True)] * 5,
        }
    )
    results = _run(script, _jobs(5), retries=3)
    assert results["r1@example.org"] == Outcome("sent")
    assert results["r2@example.org"].status == "bounced"
    assert results["r3@example.org"].status == "deferred"  # retries used up: left for resume
    assert script.delivered.count("r1@example.org") == 1
    assert "r2@example.org" not in script.delivered
    assert script.connects >= 3  # reconnected after each lost connection


def test_a_relay_refusing_the_sender_stops_the_run_early() -> None:
    script = Script(
        {
            f"r{i}@example.org": [SendFailure("failed", "554 sender refused", fatal=True)]
            for i in range(100)
        }
    )
    with pytest.raises(DeliveryError, match="554 sender refused"):
        _run(script, _jobs(100))
    assert script.delivered == []


def test_messages_per_connection_are_capped() -> None:
    script = Script()
    _run(script, _jobs(20), concurrency=1, max_per_connection=5)
    assert script.connects == 4


def test_token_bucket_paces_sends() -> None:
    clock = [0.0]

    async def sleep(seconds: float) -> None:  # a fake clock: sleeping moves time on
        clock[0] += seconds

    async def take(n: int) -> None:
        bucket = TokenBucket(rate=50, burst=1, clock=lambda: clock[0], sleep=sleep)
        for _ in range(n):
            await bucket.take()

    asyncio.run(take(11))
    # After a burst of one, ten more at 50 per second take 10/50 s of waiting.
    assert clock[0] == pytest.approx(0.2)


def test_token_bucket_without_a_rate_never_waits() -> None:
    async def forbidden(seconds: float) -> None:
        raise AssertionError("slept")

    async def take() -> None:
        bucket = TokenBucket(rate=0, sleep=forbidden)
        for _ in range(100):
            await bucket.take()

    asyncio.run(take())


def test_a_connection_that_breaks_unexpectedly_stops_the_pool_without_hanging() -> None:
    class Broken(FakeConnection):
        async def send(self, sender: str, recipient: str, data: bytes, ready: bool = False) -> None:
            raise RuntimeError("a bug in a transport")

    async def connect() -> Broken:
        return Broken(Script())

    async def run() -> None:
        settings = PoolSettings(sender="s@example.org", concurrency=3, backoff=0.01)
        await asyncio.wait_for(deliver(_jobs(20), connect, settings, lambda j, o: None), 10)

    with pytest.raises(DeliveryError, match="unexpected error: RuntimeError"):
        asyncio.run(run())


def test_a_short_list_the_relay_refuses_wholly_is_held_not_bounced() -> None:
    """Fewer readers than the breaker's count, every one refused as unknown: the relay
    showed no delivery to anyone, so nobody bounces and the run says so."""
    script = Script(
        {f"r{i}@example.org": [SendFailure("bounced", "550 5.1.1 no such user")] for i in range(3)}
    )
    results: dict[str, Outcome] = {}
    with pytest.raises(DeliveryError, match="refused all 3 recipients"):
        results = _run_into(results, script, _jobs(3))
    assert {o.status for o in results.values()} == {"deferred"}
    assert all(o.error.startswith("held: 550 5.1.1") for o in results.values())


def test_a_resume_with_only_refused_readers_left_bounces_them_on_earlier_deliveries() -> None:
    """The edition went to others in an earlier run: one refusal left is the address's."""
    script = Script({"r0@example.org": [SendFailure("bounced", "550 5.1.1 no such user")]})
    results = _run(script, _jobs(1), delivered_before=40)
    assert results["r0@example.org"].status == "bounced"
    with pytest.raises(DeliveryError, match="refused the one recipient"):
        _run(
            Script({"r0@example.org": [SendFailure("bounced", "550 5.1.1 no such user")]}), _jobs(1)
        )


def _run_into(results: dict[str, Outcome], script: Script, jobs: list[Job]) -> dict[str, Outcome]:
    async def connect() -> FakeConnection:
        return FakeConnection(script)

    settings = PoolSettings(sender="s@example.org", concurrency=2, backoff=0.01)
    asyncio.run(deliver(jobs, connect, settings, lambda j, o: results.__setitem__(j.recipient, o)))
    return results
