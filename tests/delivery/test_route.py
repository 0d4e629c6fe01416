"""A route's defaults: a moderately flaky app does not trip its breaker by chance."""

from __future__ import annotations

import random

from olactors.delivery import tolerant_breaker
from olactors.resilience import Breaker, BreakerSettings, BreakerState, Permit


def trips(settings: BreakerSettings, failure_rate: float, calls: int, seed: int) -> int:
    """How often a breaker opens over ``calls`` outcomes failing at ``failure_rate``."""
    opened = 0

    def moved(was: BreakerState, to: BreakerState, why: str) -> None:
        nonlocal opened
        opened += to is BreakerState.OPEN

    breaker = Breaker(settings, moved)
    draw = random.Random(seed)
    for n in range(calls):
        now = float(n)
        if breaker.state is not BreakerState.CLOSED:
            breaker.reset(now)  # count every trip, not only the first
        permit = breaker.permit(now)
        assert isinstance(permit, Permit)
        breaker.record(permit, now, failed=draw.random() < failure_rate, duration_s=0.01)
    return opened


def test_an_app_failing_30_percent_of_the_time_never_trips_a_routes_breaker() -> None:
    assert sum(trips(tolerant_breaker(), 0.3, 20_000, seed) for seed in range(5)) == 0


def test_the_provider_default_would_trip_on_the_same_app() -> None:
    # What routes had before: the providers' breaker (20 calls, 50 %).
    assert sum(trips(BreakerSettings(), 0.3, 20_000, seed) for seed in range(5)) > 0


def test_an_app_that_is_down_trips_a_routes_breaker() -> None:
    assert trips(tolerant_breaker(), 1.0, 200, seed=0) >= 1
