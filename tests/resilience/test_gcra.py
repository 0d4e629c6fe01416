"""GCRA: the rate and burst it promises, and what providers can ask of it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from olactors.resilience._gcra import Gcra


def test_a_burst_goes_at_once_then_requests_are_spaced_by_the_interval() -> None:
    gcra = Gcra(rate_per_s=10, burst=3)
    delays = [gcra.reserve(0.0)[1] for _ in range(5)]
    assert delays == pytest.approx([0, 0, 0, 0.1, 0.2])


def test_a_request_that_would_wait_is_refused_without_taking_a_slot() -> None:
    gcra = Gcra(rate_per_s=10, burst=1)
    assert gcra.reserve(0.0, wait=False) == (True, 0.0)
    granted, retry = gcra.reserve(0.0, wait=False)
    assert (granted, retry) == (False, pytest.approx(0.1))
    assert gcra.reserve(0.1, wait=False) == (True, 0.0)


def test_a_pause_holds_every_request_until_it_ends() -> None:
    gcra = Gcra(rate_per_s=100, burst=5)
    gcra.pause(until=30.0)
    assert gcra.reserve(1.0)[1] == pytest.approx(29.0)


def test_a_slowdown_stretches_the_interval_until_it_expires() -> None:
    gcra = Gcra(rate_per_s=10, burst=1)
    gcra.slow_down(4.0, until=10.0)
    gcra.reserve(0.0)
    assert gcra.reserve(0.0)[1] == pytest.approx(0.4)
    gcra.reserve(20.0)
    assert gcra.reserve(20.0)[1] == pytest.approx(0.1)


@settings(max_examples=200)
@given(
    rate=st.floats(min_value=0.5, max_value=1000),
    burst=st.integers(min_value=1, max_value=50),
    arrivals=st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=200),
)
def test_no_window_ever_lets_through_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: int, arrivals: list[float]
) -> None:
    gcra = Gcra(rate_per_s=rate, burst=burst)
    starts = sorted(t + gcra.reserve(t)[1] for t in sorted(arrivals))
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            length = starts[j] - first
            assert j - i + 1 <= burst + rate * length + 1e-6


def test_a_slowdown_never_releases_more_than_the_burst() -> None:
    gcra = Gcra(rate_per_s=1, burst=10)
    for _ in range(10):
        gcra.reserve(0.0)
    gcra.slow_down(4.0, until=100.0)
    assert gcra.reserve(0.0, wait=False) == (False, pytest.approx(1.0))
