"""Errors the resilience layer raises on purpose.

::

    ResilienceError
    ├── RateLimited    no budget now (and the caller asked not to wait): retry after N s
    └── CircuitOpen    the provider's breaker is open: fail fast until a given time
"""

from __future__ import annotations


class ResilienceError(Exception):
    """Base class of the resilience layer's errors; ``retry_after_s``: when to try again."""

    retry_after_s: float | None = None


class RateLimited(ResilienceError):
    """The provider's budget has no room now; there will be in ``retry_after_s``."""

    def __init__(self, provider: str, retry_after_s: float) -> None:
        super().__init__(f"{provider}: rate limited, retry after {retry_after_s:.3f} s")
        self.provider = provider
        self.retry_after_s = retry_after_s


class CircuitOpen(ResilienceError):
    """The provider's circuit breaker is open: calls fail fast until ``until`` (unix time)."""

    def __init__(self, provider: str, until: float, retry_after_s: float) -> None:
        super().__init__(f"{provider}: circuit open, retry after {retry_after_s:.1f} s")
        self.provider = provider
        self.until = until
        self.retry_after_s = retry_after_s
