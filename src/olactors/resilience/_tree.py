"""Where a provider's limiter and breaker live in the tree, and the handle that joins them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..runtime import ActorSpec, Refs, Strategy, SupervisorSpec
from ._breaker import CircuitBreaker, breaker_factory
from ._breaker_state import BreakerSettings
from ._limiter import RateLimit, RateLimiter, limiter_factory


@dataclass(frozen=True, slots=True)
class ProviderGuard:
    """One provider's limiter and breaker, as a client uses them."""

    provider: str
    limiter: RateLimiter
    breaker: CircuitBreaker

    @classmethod
    def at(cls, refs: Refs, path: str, provider: str) -> ProviderGuard:
        """The guard of ``provider`` under the resilience supervisor at ``path``."""
        return cls(
            provider,
            RateLimiter(provider, refs.actor_ref(f"{path}/{provider}/limiter")),
            CircuitBreaker(provider, refs.actor_ref(f"{path}/{provider}/breaker")),
        )


#: Where ``resilience_spec`` sits in the daemon's tree (a child of the root).
RESILIENCE_PATH = "/root/resilience"


def resilience_spec(
    providers: Mapping[str, tuple[RateLimit, BreakerSettings]],
    *,
    name: str = "resilience",
    mailbox_capacity: int = 10_000,
    shared_store: str | None = None,
) -> SupervisorSpec:
    """``/<name>/<provider>/{limiter,breaker}`` for each provider.

    A provider's limiter and breaker restart independently; losing their
    state in a restart only forgets recent history, which is safe. With
    ``shared_store`` (a store supervisor's path, on Redis) every replica
    draws on one budget per provider.
    """

    def pair(provider: str, limit: RateLimit, settings: BreakerSettings) -> SupervisorSpec:
        return SupervisorSpec(
            provider,
            children=[
                ActorSpec(
                    "limiter",
                    limiter_factory(provider, limit, shared_store),
                    mailbox_capacity=mailbox_capacity,
                ),
                ActorSpec(
                    "breaker",
                    breaker_factory(provider, settings),
                    mailbox_capacity=mailbox_capacity,
                ),
            ],
            strategy=Strategy.ONE_FOR_ONE,
            max_restarts=5,
            within_s=10,
        )

    return SupervisorSpec(
        name,
        children=[pair(p, limit, settings) for p, (limit, settings) in providers.items()],
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=5,
        within_s=10,
    )
