"""The circuit breaker on real Redis with a controllable clock."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from bot.wiring import Runtime
from connectors.breaker import Breaker, Guarded
from connectors.email import EmailConnector
from orchestrator.errors import CircuitOpen, TransientConnectorError
from orchestrator.fakes.connectors import FakeConnector
from orchestrator.ports import HandOver


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_opens_after_n_failures_fails_fast_then_closes_after_the_cool_down(runtime: Runtime) -> None:
    clock, calls = Clock(), []
    inner = FakeConnector(fail_next=3)
    original = inner.apply

    async def counted(fields: dict[str, Any], key: str, handing_over: HandOver) -> str:
        calls.append(key)
        return await original(fields, key, handing_over)

    inner.apply = counted  # type: ignore[method-assign,assignment]
    guarded = Guarded(inner, Breaker(runtime.redis, "email.send", threshold=3, cooldown_s=60, clock=clock))
    fields = {"to": "a@b.co"}
    opened = []
    for _ in range(3):
        with pytest.raises(TransientConnectorError) as caught:
            await guarded.apply(fields, "p1:0")
        opened.append(isinstance(caught.value, CircuitOpen) and caught.value.just_opened)
    assert opened == [False, False, True]  # the operator is told once, by the failure that opened it
    with pytest.raises(CircuitOpen) as fast:
        await guarded.apply(fields, "p1:0")
    assert not fast.value.just_opened and len(calls) == 3  # open: no call reached the connector
    clock.now += 61
    assert await guarded.apply(fields, "p1:0") == "Sent to a@b.co"
    assert await runtime.redis.exists("deputy:circuit:email.send") == 0  # closed again


async def test_state_is_shared_between_processes_through_redis(runtime: Runtime) -> None:
    clock = Clock()
    first = Breaker(runtime.redis, "webhook.post", threshold=2, cooldown_s=30, clock=clock)
    second = Breaker(runtime.redis, "webhook.post", threshold=2, cooldown_s=30, clock=clock)
    assert [await first.failed(), await second.failed()] == [False, True]
    with pytest.raises(CircuitOpen):
        await first.check()


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused, as to an SMTP server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_email_opens_cools_probes_and_reopens_three_times_then_a_success_closes(runtime: Runtime) -> None:
    clock = Clock()
    email = EmailConnector(f"smtp://127.0.0.1:{closed_port()}", "Sam <sam@example.com>")
    breaker = Breaker(runtime.redis, "email.send", threshold=3, cooldown_s=60, clock=clock)
    guarded, fields = Guarded(email, breaker), {"to": "a@b.co", "subject": "s", "body": "b"}
    for _ in range(2):
        with pytest.raises(TransientConnectorError) as refused:
            await guarded.apply(fields, "p1:0")
        assert "can't reach the SMTP server" in str(refused.value)
    for cycle in range(3):
        with pytest.raises(CircuitOpen) as opened:
            await guarded.apply(fields, "p1:0")  # the third failure in a row, then each failed probe
        assert opened.value.just_opened, cycle
        with pytest.raises(CircuitOpen) as fast:
            await guarded.apply(fields, "p1:0")
        assert not fast.value.just_opened and "paused after 3 failures" in str(fast.value)
        clock.now += 61  # cooled down: the next call is the probe, and it fails
    good = FakeConnector()
    assert await Guarded(good, breaker).apply(fields, "p1:0") == "Sent to a@b.co"  # the probe succeeds: closed
    assert await runtime.redis.exists("deputy:circuit:email.send") == 0


async def test_one_probe_at_a_time_under_a_lease(runtime: Runtime) -> None:
    clock = Clock()
    first = Breaker(runtime.redis, "webhook.post", threshold=1, cooldown_s=30, clock=clock, probe_s=120)
    second = Breaker(runtime.redis, "webhook.post", threshold=1, cooldown_s=30, clock=clock, probe_s=120)
    assert await first.failed()
    clock.now += 31
    assert await first.check()  # the probe goes through …
    with pytest.raises(CircuitOpen) as waiting:
        await second.check()  # … the others fail fast while it is in flight
    assert "trying it again" in str(waiting.value)
    clock.now += 121  # the probe's worker died: its lease ran out, another call probes
    assert await second.check()
    await second.release()
    assert await first.check()
    await first.succeeded()
    assert not await second.check()
