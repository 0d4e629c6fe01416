"""Resilience per provider: a rate limiter actor and a circuit breaker actor.

Each provider gets its own pair under ``/root/resilience/<provider>/``; the
provider clients go through both on every call.
"""

from ._breaker import CircuitBreaker, CircuitBreakerActor
from ._breaker_state import Breaker, BreakerSettings, BreakerState, Permit
from ._errors import CircuitOpen, RateLimited, ResilienceError
from ._gcra import Gcra
from ._hints import retry_after_s
from ._limiter import RateLimit, RateLimiter, RateLimiterActor
from ._tree import RESILIENCE_PATH, ProviderGuard, resilience_spec

__all__ = [
    "RESILIENCE_PATH",
    "Breaker",
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerActor",
    "CircuitOpen",
    "Gcra",
    "Permit",
    "ProviderGuard",
    "RateLimit",
    "RateLimited",
    "RateLimiter",
    "RateLimiterActor",
    "ResilienceError",
    "resilience_spec",
    "retry_after_s",
]
