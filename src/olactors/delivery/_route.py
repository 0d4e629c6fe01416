"""What the engine needs to know of one destination, and the state an operator steers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from ..resilience import BreakerSettings
from ..runtime import ActorContext
from ._destination import Destination
from ._keys import queue_name
from ._schedule import RetryPolicy


def tolerant_breaker() -> BreakerSettings:
    """A breaker that a moderately flaky app (30 % errors) does not trip by chance.

    It judges only full windows of 100 calls: at 30 % errors, 60 or more
    failures in 100 happen with a probability of about 5e-10 per window. An
    app that fails every call trips it at the 100th.
    """
    return BreakerSettings(
        window_size=100,
        minimum_calls=100,
        failure_rate_pct=60.0,
        slow_call_s=30.0,
        open_s=10.0,
        max_open_s=300.0,
        half_open_calls=3,
        trial_timeout_s=60.0,
    )


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    """One destination of a namespace: where its items go and how hard to try.

    ``make`` builds the destination at each courier start (its connection
    pool lives as long as the courier), given the courier's context (a channel
    that hands items to another actor finds it there). ``max_in_flight`` bounds its
    attempts at once; ``rate_per_s`` (None: unlimited) and ``burst`` bound
    their rate; ``timeout_s`` bounds one attempt; ``lease_s`` is how long a
    claimed item stays ours (attempts are cut well before it runs out).
    """

    namespace: str
    name: str
    make: Callable[[ActorContext], Destination]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_in_flight: int = 64
    breaker: BreakerSettings = field(default_factory=tolerant_breaker)
    rate_per_s: float | None = None
    burst: int = 1
    timeout_s: float = 10.0
    lease_s: float = 60.0
    claim_batch: int = 64

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.claim_batch < 1:
            raise ValueError("max_in_flight and claim_batch must be at least 1")
        if not 0 < self.timeout_s < self.lease_s * 0.8:
            raise ValueError("an attempt's timeout_s must stay below 80% of lease_s")

    @property
    def queue(self) -> str:
        return queue_name(self.namespace, self.name)


class RouteState(msgspec.Struct, frozen=True, omit_defaults=True):
    """Whether a destination is paused, since when, and why.

    ``gone`` is set when it was disabled by a 410 Gone (the answer is in
    ``reason``); resuming clears both. Kept in the store, so that every
    replica and every restart sees it.
    """

    paused: bool = False
    since: float | None = None
    reason: str = ""
    gone: bool = False
