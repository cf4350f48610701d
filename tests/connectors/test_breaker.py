"""The circuit breaker on real Redis with a controllable clock."""

from __future__ import annotations

from typing import Any

import pytest

from config.wiring import Runtime
from connectors.breaker import Breaker, Guarded
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
