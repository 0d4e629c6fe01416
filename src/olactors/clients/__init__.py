"""Provider API clients: one resilient base client, one small module per provider."""

from . import abacatepay, google, instagram, sendgrid, stripe
from ._cache import CachedResponse, MemoryCache, ResponseCache, StoreCache
from ._classifiers import classifier
from ._client import (
    SAFE_METHODS,
    Classify,
    ClientSettings,
    ProviderClient,
    Response,
    error_for_status_and_body,
)
from ._errors import (
    AuthFailure,
    NetworkError,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
    ServerError,
    ValidationError,
    error_for_status,
)

__all__ = [
    "SAFE_METHODS",
    "AuthFailure",
    "CachedResponse",
    "Classify",
    "ClientSettings",
    "MemoryCache",
    "NetworkError",
    "NotFound",
    "ProviderClient",
    "ProviderError",
    "ProviderTimeout",
    "RateLimitError",
    "Response",
    "ResponseCache",
    "ServerError",
    "StoreCache",
    "ValidationError",
    "abacatepay",
    "classifier",
    "error_for_status",
    "error_for_status_and_body",
    "google",
    "instagram",
    "sendgrid",
    "stripe",
]
