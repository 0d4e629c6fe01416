"""The limiter and breaker actors in a running system, on trio's virtual clock."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing

from olactors import metrics
from olactors.resilience import (
    BreakerSettings,
    CircuitOpen,
    Permit,
    ProviderGuard,
    RateLimit,
    RateLimited,
    resilience_spec,
)
from olactors.runtime import ActorSystem, SupervisorSpec

BREAKER = BreakerSettings(window_size=10, minimum_calls=4, open_s=30, half_open_calls=1)


async def open_guard(
    nursery: trio.Nursery, provider: str, limit: RateLimit, breaker: BreakerSettings = BREAKER
) -> tuple[ActorSystem, ProviderGuard]:
    spec = SupervisorSpec("root", children=[resilience_spec({provider: (limit, breaker)})])
    system = ActorSystem(spec)
    await nursery.start(system.run)
    return system, ProviderGuard.at(system, "/root/resilience", provider)


@pytest.fixture
async def nursery() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


async def test_a_limit_of_50_per_second_lets_50_per_second_through(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, guard = await open_guard(nursery, "stripe", RateLimit(rate_per_s=50, burst=5))
    done = 0
    with trio.move_on_after(5.0):
        async with trio.open_nursery() as callers:
            for _ in range(20):

                async def call() -> None:
                    nonlocal done
                    while True:
                        await guard.limiter.acquire()
                        done += 1

                callers.start_soon(call)
    # 5 seconds at 50/s, plus the burst of 5 that may go at once.
    assert abs(done - 255) <= 255 * 0.05


async def test_a_caller_that_will_not_wait_gets_rate_limited_with_a_retry_time(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, guard = await open_guard(nursery, "sendgrid", RateLimit(rate_per_s=2))
    await guard.limiter.acquire(wait=False)
    with pytest.raises(RateLimited) as caught:
        await guard.limiter.acquire(wait=False)
    assert caught.value.retry_after_s == pytest.approx(0.5)


async def test_a_429_with_retry_after_pauses_the_provider_for_that_long(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, guard = await open_guard(nursery, "instagram", RateLimit(rate_per_s=100, burst=10))
    guard.limiter.observe(429, httpx.Headers({"Retry-After": "12"}))
    await trio.testing.wait_all_tasks_blocked()
    began = trio.current_time()
    waited = await guard.limiter.acquire()
    assert waited == pytest.approx(12)
    assert trio.current_time() - began == pytest.approx(12)


async def test_an_open_breaker_fails_fast_and_says_until_when(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _, guard = await open_guard(nursery, "abacatepay", RateLimit(rate_per_s=1000))
    for _ in range(4):
        permit = await guard.breaker.permit()
        guard.breaker.record(permit, failed=True, duration_s=0.1)
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(CircuitOpen) as caught:
        await guard.breaker.permit()
    assert caught.value.retry_after_s == pytest.approx(30)


async def test_a_breaker_half_opens_after_its_open_time_and_closes_on_a_good_trial(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    system, guard = await open_guard(nursery, "google", RateLimit(rate_per_s=1000))
    for _ in range(4):
        guard.breaker.record(await guard.breaker.permit(), failed=True, duration_s=0.1)
    await trio.sleep(30)
    trial = await guard.breaker.permit()
    assert isinstance(trial, Permit)
    assert trial.trial is not None
    guard.breaker.record(trial, failed=False, duration_s=0.1)
    await trio.testing.wait_all_tasks_blocked()
    state = system.actor_snapshot("/root/resilience/google/breaker").state
    assert (state["state"], state["transitions"]) == ("closed", 3)


async def test_breaker_transitions_are_logged_and_counted_in_metrics(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    def opened() -> float:
        value = metrics.REGISTRY.get_sample_value(
            "olactors_breaker_transitions_total",
            {"provider": "meta-test", "from_state": "closed", "to_state": "open"},
        )
        return value or 0.0

    before = opened()
    _, guard = await open_guard(nursery, "meta-test", RateLimit(rate_per_s=1000))
    with caplog.at_level(logging.WARNING, logger="olactors.resilience"):
        for _ in range(4):
            guard.breaker.record(await guard.breaker.permit(), failed=True, duration_s=0.1)
        with pytest.raises(CircuitOpen):
            await guard.breaker.permit()
    assert opened() == before + 1
    assert (
        metrics.REGISTRY.get_sample_value("olactors_breaker_state", {"provider": "meta-test"}) == 2
    )
    assert (
        "circuit meta-test: closed -> open (failure rate 100% >= 50% over 4 calls)" in caplog.text
    )


async def test_a_breaker_reset_by_hand_lets_calls_through_again(nursery: trio.Nursery) -> None:
    _, guard = await open_guard(nursery, "stripe-reset", RateLimit(rate_per_s=1000))
    for _ in range(4):
        guard.breaker.record(await guard.breaker.permit(), failed=True, duration_s=0.1)
    with pytest.raises(CircuitOpen):
        await guard.breaker.permit()
    await guard.breaker.reset()
    assert isinstance(await guard.breaker.permit(), Permit)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-App-Usage": '{"call_count": ' + "9" * 400 + "}"},
        {"X-App-Usage": '{"estimated_time_to_regain_access": ' + "9" * 400 + "}"},
        {"X-RateLimit-Remaining": "1e-323", "X-RateLimit-Reset": "60"},
        {"X-RateLimit-Remaining": "nan", "X-RateLimit-Reset": "1e400"},
    ],
)
async def test_a_provider_sending_absurd_limit_headers_keeps_being_called(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
) -> None:
    system, guard = await open_guard(nursery, "instagram", RateLimit(rate_per_s=10, burst=1))
    for _ in range(5):
        guard.limiter.observe(200, httpx.Headers(headers))
    await trio.testing.wait_all_tasks_blocked()
    began = trio.current_time()
    for _ in range(3):
        await guard.limiter.acquire()
    # No crash loop, no endless pause: at most an hour's hold, the documented cap.
    assert system.snapshot("/root/resilience/instagram/limiter").restarts_total == 0
    assert trio.current_time() - began <= 3600 + 1


async def test_a_malformed_limit_header_is_logged_once_and_ignored(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    system, guard = await open_guard(nursery, "instagram", RateLimit(rate_per_s=10, burst=1))
    for _ in range(5):
        guard.limiter.observe(200, httpx.Headers({"X-App-Usage": '{"call_count": "lots"}'}))
    await trio.testing.wait_all_tasks_blocked()
    lines = [r.getMessage() for r in caplog.records if "cannot use" in r.getMessage()]
    assert lines == ["instagram sent a x-app-usage header we cannot use; ignoring it (logged once)"]
    state = system.actor_snapshot("/root/resilience/instagram/limiter").state
    assert state["malformed_headers"] == ["x-app-usage"]
    assert state["slowdown"] == 1.0
