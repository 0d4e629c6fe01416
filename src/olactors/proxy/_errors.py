"""What the proxy answers in the app API's own error shape, when the provider's answer
is not the answer: the call could not be made, or was refused on the way.

::

    ApiError
    ├── RateLimited          429 rate_limited: the provider's budget (ours, or its
    │                        own 429), with Retry-After
    ├── ProviderAuthFailure  502 provider_auth_failure: the provider refused the
    │                        daemon's credentials (an API key, or a token just refreshed)
    ├── ProviderUnreachable  502 provider_unreachable: no answer came back
    ├── CircuitOpen          503 circuit_open: the provider's breaker is open, with Retry-After
    └── ProviderTimeout      504 provider_timeout: the provider did not answer in time

Any other answer of the provider (a 404, a 402 card_declined, a 500 after the
retries) is handed back as the provider sent it, marked ``Olactors-Provider``.
"""

from __future__ import annotations

from ..api import ApiError


class _Later(ApiError):
    """A refusal that says when to come back (``Retry-After``), where it knows."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(_Later):
    status, type = 429, "rate_limited"


class ProviderAuthFailure(ApiError):
    status, type = 502, "provider_auth_failure"


class ProviderUnreachable(ApiError):
    status, type = 502, "provider_unreachable"


class CircuitOpen(_Later):
    status, type = 503, "circuit_open"


class ProviderTimeout(ApiError):
    status, type = 504, "provider_timeout"
