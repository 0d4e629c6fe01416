"""What can go wrong calling a provider, by class, with the provider's own answer kept.

::

    ProviderError
    ├── RateLimitError     429: the provider's limit (retried after Retry-After)
    ├── AuthFailure        401/403: bad or expired credentials (never retried)
    ├── NotFound           404
    ├── ValidationError    any other 4xx: the request is wrong (never retried)
    ├── ServerError        5xx (retried where safe)
    ├── NetworkError       connect, read or protocol failure (retried where safe)
    └── ProviderTimeout    no answer in time (retried where safe)

``RateLimited`` and ``CircuitOpen`` from the resilience layer pass through
unchanged: they are our own refusals, not the provider's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class ProviderError(Exception):
    """A call to a provider failed; ``kind`` names the class, ``body`` is what it said."""

    kind = "error"
    #: Whether the same request may succeed if sent again (where a retry is safe).
    transient = False

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        body: bytes = b"",
        retry_after_s: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status
        self.body = body
        self.retry_after_s = retry_after_s
        #: The provider's answer's headers (the proxy hands some of them on).
        self.headers = dict(headers or {})

    def json(self) -> Any:
        """The provider's error body as JSON, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class RateLimitError(ProviderError):
    kind = "rate_limit"
    transient = True


class AuthFailure(ProviderError):
    kind = "auth_failure"


class NotFound(ProviderError):
    kind = "not_found"


class ValidationError(ProviderError):
    kind = "validation"


class ServerError(ProviderError):
    kind = "server"
    transient = True


class NetworkError(ProviderError):
    kind = "network"
    transient = True


class ProviderTimeout(ProviderError):
    kind = "timeout"
    transient = True


def error_for_status(status: int) -> type[ProviderError] | None:
    """The error class of an HTTP status, or None for a success."""
    if status < 400:
        return None
    if status == 429:
        return RateLimitError
    if status in (401, 403):
        return AuthFailure
    if status == 404:
        return NotFound
    if status < 500:
        return ValidationError
    return ServerError
