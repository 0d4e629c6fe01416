"""The circuit breaker's rules (resilience4j semantics), on a clock the tests set."""

from __future__ import annotations

import pytest

from olactors.resilience._breaker_state import Breaker, BreakerSettings, BreakerState, Permit

SETTINGS = BreakerSettings(
    window_size=10,
    minimum_calls=5,
    failure_rate_pct=50,
    slow_call_rate_pct=80,
    slow_call_s=2.0,
    open_s=10,
    open_multiplier=2,
    max_open_s=25,
    half_open_calls=2,
    trial_timeout_s=5,
)


def calls(breaker: Breaker, outcomes: str, now: float = 0.0, duration_s: float = 0.1) -> None:
    """'F' a failed call, '.' a good one, 'S' a good but slow one."""
    for outcome in outcomes:
        permit = breaker.permit(now)
        assert isinstance(permit, Permit)
        slow = outcome == "S"
        breaker.record(permit, now, failed=outcome == "F", duration_s=3.0 if slow else duration_s)


def test_it_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "..FFF")
    assert breaker.state is BreakerState.OPEN


def test_it_stays_closed_below_the_minimum_number_of_calls() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFF")
    assert breaker.state is BreakerState.CLOSED


def test_it_stays_closed_below_the_failure_threshold() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "...F.F.F..")
    assert breaker.state is BreakerState.CLOSED


def test_it_opens_on_too_many_slow_calls_even_when_they_succeed() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "SSSS.")
    assert breaker.state is BreakerState.OPEN


def test_while_open_it_answers_how_long_until_it_may_try_again() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=100)
    assert breaker.permit(104) == pytest.approx(6)


def test_after_the_open_time_it_lets_exactly_the_trial_calls_through() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=0)
    first, second, third = breaker.permit(10), breaker.permit(10), breaker.permit(10)
    assert breaker.state is BreakerState.HALF_OPEN
    assert isinstance(first, Permit)
    assert isinstance(second, Permit)
    assert third == pytest.approx(5)  # until the oldest trial would time out


def test_good_trial_calls_close_it() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=0)
    calls(breaker, "..", now=10)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.trips == 0


def test_a_failed_trial_opens_it_again_for_longer_up_to_the_cap() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=0)
    calls(breaker, ".F", now=10)
    assert (breaker.state, breaker.open_until) == (BreakerState.OPEN, 30)  # 10 * 2
    calls(breaker, "FF", now=30)
    assert breaker.open_until == 55  # 10 * 4 capped at 25


def test_a_trial_that_never_reports_counts_as_failed() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=0)
    stuck = breaker.permit(10)
    calls(breaker, ".", now=10)
    assert isinstance(stuck, Permit)
    assert breaker.permit(15.5) == pytest.approx(20)  # opened again at 15.5, for 10 * 2 s
    assert breaker.state is BreakerState.OPEN


def test_an_outcome_from_before_a_transition_is_ignored() -> None:
    breaker = Breaker(SETTINGS)
    early = breaker.permit(0)
    assert isinstance(early, Permit)
    calls(breaker, "FFFFF", now=0)
    calls(breaker, "..", now=10)  # closed again: a new epoch
    breaker.record(early, 11, failed=True, duration_s=0.1)
    assert breaker.tally(11).calls == 0


def test_a_client_error_is_not_a_failure() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "..........")  # callers pass failed=False for 4xx: only the class counts
    assert breaker.state is BreakerState.CLOSED


def test_a_time_window_forgets_calls_older_than_its_length() -> None:
    breaker = Breaker(BreakerSettings(window="time", window_size=10, minimum_calls=5))
    calls(breaker, "FFFF", now=0)
    calls(breaker, "F....", now=20)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.tally(20).calls == 5


def test_every_transition_is_reported_with_its_reason() -> None:
    seen: list[tuple[str, str, str]] = []
    breaker = Breaker(SETTINGS, on_transition=lambda a, b, why: seen.append((a, b, why)))
    calls(breaker, "FFFFF", now=0)
    calls(breaker, "..", now=10)
    assert [(a, b) for a, b, _ in seen] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert seen[0][2] == "failure rate 100% >= 50% over 5 calls"


def test_a_reset_by_hand_closes_it_and_forgets_the_trips() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=0)
    breaker.reset(1)
    assert (breaker.state, breaker.trips) == (BreakerState.CLOSED, 0)
    assert isinstance(breaker.permit(1), Permit)


def test_a_count_window_smaller_than_its_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum_calls cannot exceed window_size"):
        BreakerSettings(window_size=5, minimum_calls=10)


def test_an_abandoned_trial_gives_its_slot_back_at_once() -> None:
    breaker = Breaker(SETTINGS)
    calls(breaker, "FFFFF", now=0)
    first, second = breaker.permit(10), breaker.permit(10)
    assert isinstance(first, Permit)
    assert isinstance(second, Permit)
    breaker.record(first, 10, failed=False, duration_s=0, abandoned=True)
    assert isinstance(breaker.permit(10), Permit)
    assert breaker.state is BreakerState.HALF_OPEN
