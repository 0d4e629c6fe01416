"""Several replicas draw on one provider budget kept in Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import RedisBackend, store_spec
from olactors.testing import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


async def replica(
    nursery: trio.Nursery, url: str, limit: RateLimit, systems: list[ActorSystem]
) -> ProviderGuard:
    store = store_spec(lambda role: RedisBackend(url, prefix="shared"))
    limits = {"stripe": (limit, BreakerSettings())}
    spec = SupervisorSpec(
        "root", children=[store, resilience_spec(limits, shared_store="/root/store")]
    )
    system = ActorSystem(spec)
    await nursery.start(system.run)
    systems.append(system)
    return ProviderGuard.at(system, "/root/resilience", "stripe")


async def test_two_replicas_together_stay_under_one_budget(redis_server: RedisServer) -> None:
    limit = RateLimit(rate_per_s=20, burst=1)
    granted = 0
    systems: list[ActorSystem] = []
    async with trio.open_nursery() as nursery:
        guards = [await replica(nursery, redis_server.url, limit, systems) for _ in range(2)]
        with trio.move_on_after(2.0):
            async with trio.open_nursery() as callers:
                for guard in guards * 4:

                    async def call(guard: ProviderGuard = guard) -> None:
                        nonlocal granted
                        while True:
                            await guard.limiter.acquire()
                            granted += 1

                    callers.start_soon(call)
        for system in systems:
            system.shutdown()
    # One budget of 20/s for 2 s (each replica alone would have let 40 through).
    assert 30 <= granted <= 42


async def test_a_pause_one_replica_learns_holds_the_other(redis_server: RedisServer) -> None:
    import httpx

    limit = RateLimit(rate_per_s=100, burst=10)
    systems: list[ActorSystem] = []
    async with trio.open_nursery() as nursery:
        first, second = [await replica(nursery, redis_server.url, limit, systems) for _ in range(2)]
        first.limiter.observe(429, httpx.Headers({"Retry-After": "1"}))
        await trio.sleep(0.1)  # the hold reaches Redis
        waited = await second.limiter.acquire()
        for system in systems:
            system.shutdown()
    assert 0.7 <= waited <= 1.0
