"""GCRA: a token bucket kept as one timestamp, with pauses and slow-downs learned from providers."""

from __future__ import annotations

import math


class Gcra:
    """The generic cell rate algorithm over a caller-supplied clock (seconds).

    ``rate_per_s`` requests per second on average, ``burst`` of them at once.
    The whole state is the theoretical arrival time (``tat``) of the next
    request. :meth:`reserve` hands out the earliest time a request may go:
    requests are never refused, only scheduled, unless the caller asks not
    to wait.

    A provider can ask for less: :meth:`pause` (a 429 with Retry-After, a
    remaining budget of zero) holds every request until a time;
    :meth:`slow_down` stretches the interval between requests by a factor
    until a time (usage headers nearing their limit).
    """

    __slots__ = (
        "_slow_until",
        "_slowdown",
        "burst",
        "interval",
        "paused_until",
        "rate_per_s",
        "tat",
    )

    def __init__(self, rate_per_s: float, burst: int = 1) -> None:
        if not (math.isfinite(rate_per_s) and rate_per_s > 0) or burst < 1:
            raise ValueError("a rate limit needs rate_per_s > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.interval = 1.0 / rate_per_s
        self.tat = -math.inf
        self.paused_until = -math.inf
        self._slowdown = 1.0
        self._slow_until = -math.inf

    @property
    def tolerance(self) -> float:
        return self.interval * (self.burst - 1)

    def slowdown(self, now: float) -> float:
        """The current stretch of the interval (1.0: none)."""
        return self._slowdown if now < self._slow_until else 1.0

    def reserve(self, now: float, *, wait: bool = True) -> tuple[bool, float]:
        """Take a slot; return (granted, delay in seconds until it may go).

        With ``wait=False`` a request that would have to wait is not granted
        and takes nothing: the delay says when to try again.
        """
        base = max(self.tat, now)
        # The burst allowance stays that of the configured rate: a slow-down
        # spaces the next requests out, it must never release more at once.
        start = max(now, base - self.tolerance, self.paused_until)
        delay = start - now
        if delay > 0 and not wait:
            return False, delay
        self.tat = max(base, start) + self.interval * self.slowdown(now)
        return True, delay

    def pause(self, until: float) -> None:
        """Let nothing go before ``until``."""
        self.paused_until = max(self.paused_until, until)

    def slow_down(self, factor: float, until: float) -> None:
        """Stretch the interval by ``factor`` (>= 1) until ``until``; a later call replaces it."""
        self._slowdown = max(1.0, factor)
        self._slow_until = until
