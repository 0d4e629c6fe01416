"""A circuit breaker's state machine, with resilience4j's semantics, over a caller's clock."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import msgspec


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """When to open, how long to stay open, and how to try again.

    The window is the last ``window_size`` calls (``count``) or the calls of
    the last ``window_size`` seconds (``time``). Once it holds at least
    ``minimum_calls``, the breaker opens when the failure rate or the rate of
    calls slower than ``slow_call_s`` reaches its threshold. It stays open
    ``open_s``, times ``open_multiplier`` for each trip in a row, at most
    ``max_open_s``; then lets ``half_open_calls`` trial calls through and
    closes or opens again by their outcome. A trial that has not reported
    within ``trial_timeout_s`` counts as failed.
    """

    window: Literal["count", "time"] = "count"
    window_size: int = 20
    minimum_calls: int = 10
    failure_rate_pct: float = 50.0
    slow_call_rate_pct: float = 100.0
    slow_call_s: float = 5.0
    open_s: float = 30.0
    open_multiplier: float = 2.0
    max_open_s: float = 300.0
    half_open_calls: int = 3
    trial_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.window_size < 1 or self.minimum_calls < 1 or self.half_open_calls < 1:
            raise ValueError("window_size, minimum_calls and half_open_calls must be >= 1")
        if not (0 < self.failure_rate_pct <= 100 and 0 < self.slow_call_rate_pct <= 100):
            raise ValueError("rate thresholds are percentages in (0, 100]")
        if self.open_s <= 0 or self.open_multiplier < 1 or self.max_open_s < self.open_s:
            raise ValueError("need open_s > 0, open_multiplier >= 1, max_open_s >= open_s")
        if self.window == "count" and self.minimum_calls > self.window_size:
            # A count window never holds more than its size: it could never open.
            raise ValueError("minimum_calls cannot exceed window_size for a count window")


class Permit(msgspec.Struct, frozen=True):
    """Leave to make one call; hand it back with the call's outcome.

    ``epoch`` names the breaker state it was given in (an outcome from an
    earlier state is ignored); ``trial`` numbers a half-open trial call.
    """

    epoch: int
    trial: int | None = None


class Tally(msgspec.Struct, frozen=True):
    calls: int
    failures: int
    slow: int

    def rates(self) -> tuple[float, float]:
        if self.calls == 0:
            return 0.0, 0.0
        return 100.0 * self.failures / self.calls, 100.0 * self.slow / self.calls


class _CountWindow:
    def __init__(self, size: int) -> None:
        self._calls: deque[tuple[bool, bool]] = deque(maxlen=size)

    def add(self, now: float, failed: bool, slow: bool) -> None:
        self._calls.append((failed, slow))

    def tally(self, now: float) -> Tally:
        calls = self._calls
        return Tally(len(calls), sum(f for f, _ in calls), sum(s for _, s in calls))


class _TimeWindow:
    """One bucket per second; buckets older than the window drop out."""

    def __init__(self, seconds: int) -> None:
        self._seconds = seconds
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures, slow]

    def add(self, now: float, failed: bool, slow: bool) -> None:
        second = math.floor(now)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow

    def tally(self, now: float) -> Tally:
        oldest = math.floor(now) - self._seconds + 1
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()
        return Tally(
            sum(b[1] for b in self._buckets),
            sum(b[2] for b in self._buckets),
            sum(b[3] for b in self._buckets),
        )


#: Told of every transition: (from, to, why).
OnTransition = Callable[[BreakerState, BreakerState, str], None]


class Breaker:
    """The breaker's rules, with no I/O: times are passed in, transitions reported to a callback."""

    def __init__(
        self, settings: BreakerSettings, on_transition: OnTransition | None = None
    ) -> None:
        self.settings = settings
        self.state = BreakerState.CLOSED
        self.epoch = 0
        self.trips = 0
        self.open_until = -math.inf
        self._on_transition = on_transition
        self._window = self._new_window()
        self._issued: dict[int, float] = {}  # half-open trial number -> when permitted
        self._trials: list[tuple[bool, bool]] = []
        self._next_trial = 0

    def _new_window(self) -> _CountWindow | _TimeWindow:
        size = self.settings.window_size
        return _CountWindow(size) if self.settings.window == "count" else _TimeWindow(size)

    def tally(self, now: float) -> Tally:
        return self._window.tally(now)

    # -- the two operations --------------------------------------------------

    def permit(self, now: float) -> Permit | float:
        """A permit, or the seconds until one may be given (the breaker is open)."""
        self._advance(now)
        if self.state is BreakerState.CLOSED:
            return Permit(self.epoch)
        if self.state is BreakerState.OPEN:
            return self.open_until - now
        if len(self._issued) + len(self._trials) < self.settings.half_open_calls:
            trial = self._next_trial
            self._next_trial += 1
            self._issued[trial] = now
            return Permit(self.epoch, trial)
        # Every trial is out: the next chance is when the oldest would time out.
        oldest = min(self._issued.values(), default=now)
        return max(0.0, oldest + self.settings.trial_timeout_s - now)

    def record(
        self,
        permit: Permit,
        now: float,
        *,
        failed: bool,
        duration_s: float,
        abandoned: bool = False,
    ) -> None:
        """The outcome of a call made with ``permit``.

        ``abandoned``: the call never got an answer for a reason of ours (the
        caller was cancelled, no pooled connection was free). It counts for
        nothing, and a half-open trial slot is given back at once.
        """
        self._advance(now)
        if permit.epoch != self.epoch:
            return  # given in an earlier state: its outcome no longer counts
        if abandoned:
            if permit.trial is not None:
                self._issued.pop(permit.trial, None)
            return
        slow = duration_s >= self.settings.slow_call_s
        if self.state is BreakerState.CLOSED:
            self._window.add(now, failed, slow)
            self._judge_closed(now)
        elif self.state is BreakerState.HALF_OPEN and permit.trial in self._issued:
            del self._issued[permit.trial]
            self._trials.append((failed, slow))
            self._judge_trials(now)

    def reset(self, now: float) -> None:
        """Close by hand (an operator's reset): window and trips start over."""
        self.trips = 0
        self._move(BreakerState.CLOSED, now, "reset by hand")

    # -- rules -----------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if self.state is BreakerState.OPEN and now >= self.open_until:
            self._move(BreakerState.HALF_OPEN, now, f"open for {self._open_for():g} s")
        if self.state is BreakerState.HALF_OPEN:
            timeout = self.settings.trial_timeout_s
            stuck = [t for t, since in self._issued.items() if now - since >= timeout]
            for trial in stuck:
                del self._issued[trial]
                self._trials.append((True, True))
            if stuck:
                self._judge_trials(now)

    def _judge_closed(self, now: float) -> None:
        tally = self._window.tally(now)
        if tally.calls < self.settings.minimum_calls:
            return
        why = self._too_bad(tally)
        if why:
            self.trips += 1
            self._move(BreakerState.OPEN, now, f"{why} over {tally.calls} calls")

    def _judge_trials(self, now: float) -> None:
        if len(self._trials) < self.settings.half_open_calls:
            return
        tally = Tally(
            len(self._trials),
            sum(f for f, _ in self._trials),
            sum(s for _, s in self._trials),
        )
        why = self._too_bad(tally)
        if why:
            self.trips += 1
            self._move(BreakerState.OPEN, now, f"{why} over {tally.calls} trial calls")
        else:
            self.trips = 0
            self._move(BreakerState.CLOSED, now, f"{tally.calls} trial calls went well")

    def _too_bad(self, tally: Tally) -> str:
        failure_pct, slow_pct = tally.rates()
        if failure_pct >= self.settings.failure_rate_pct:
            return f"failure rate {failure_pct:.0f}% >= {self.settings.failure_rate_pct:g}%"
        if slow_pct >= self.settings.slow_call_rate_pct:
            return f"slow-call rate {slow_pct:.0f}% >= {self.settings.slow_call_rate_pct:g}%"
        return ""

    def _open_for(self) -> float:
        s = self.settings
        return min(s.max_open_s, s.open_s * s.open_multiplier ** max(self.trips - 1, 0))

    def _move(self, to: BreakerState, now: float, why: str) -> None:
        was = self.state
        self.state = to
        self.epoch += 1
        self._issued.clear()
        self._trials.clear()
        if to is BreakerState.OPEN:
            self.open_until = now + self._open_for()
        if to is BreakerState.CLOSED:
            self._window = self._new_window()
        if self._on_transition is not None:
            self._on_transition(was, to, why)
