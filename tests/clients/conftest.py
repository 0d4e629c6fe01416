from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import trio

from olactors.clients import ClientSettings, MemoryCache, ProviderClient
from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.testing import FakeProvider


@dataclass
class Rig:
    """A running resilience subtree, a fake provider, and a client between them."""

    system: ActorSystem
    provider: FakeProvider
    client: ProviderClient
    cache: MemoryCache


BREAKER = BreakerSettings(window_size=10, minimum_calls=4, open_s=30, half_open_calls=1)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with trio.open_nursery() as nursery:
        provider = FakeProvider()
        await nursery.start(provider.serve)
        limits = {"acme": (RateLimit(rate_per_s=1000, burst=100), BREAKER)}
        system = ActorSystem(SupervisorSpec("root", children=[resilience_spec(limits)]))
        await nursery.start(system.run)
        guard = ProviderGuard.at(system, "/root/resilience", "acme")
        settings = ClientSettings(
            base_url=provider.url,
            timeout_s=0.5,
            max_attempts=3,
            backoff_initial_s=0.01,
            backoff_max_s=0.05,
            cache_ttl_s=0.3,
        )
        cache = MemoryCache()
        async with ProviderClient("acme", settings, guard, cache=cache) as client:
            yield Rig(system, provider, client, cache)
        system.shutdown()
        nursery.cancel_scope.cancel()
