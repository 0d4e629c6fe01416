"""``[providers.<name>]``: each provider's client, budget and breaker."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..clients import ClientSettings
from ..resilience import BreakerSettings, RateLimit
from ._base import Section


class BreakerConfig(Section):
    """A provider's circuit breaker (resilience4j's settings; see BreakerSettings)."""

    window: Literal["count", "time"] = "count"
    window_size: int = Field(default=20, ge=1)
    minimum_calls: int = Field(default=10, ge=1)
    failure_rate_pct: float = Field(default=50.0, gt=0, le=100)
    slow_call_rate_pct: float = Field(default=100.0, gt=0, le=100)
    slow_call_s: float = Field(default=5.0, gt=0)
    open_s: float = Field(default=30.0, gt=0)
    open_multiplier: float = Field(default=2.0, ge=1)
    max_open_s: float = Field(default=300.0, gt=0)
    half_open_calls: int = Field(default=3, ge=1)
    trial_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _coherent(self) -> BreakerConfig:
        self.settings()  # a ValueError here is reported as a validation error
        return self

    def settings(self) -> BreakerSettings:
        return BreakerSettings(**self.model_dump())


class ProviderConfig(Section):
    """One third-party API: where it is, its budget, its timeouts and retries.

    The credential is never here: ``secret_env`` names the environment
    variable that holds it (sent as a Bearer token).
    """

    base_url: str
    secret_env: str | None = None
    #: The header the provider reads an idempotency key from (Stripe's
    #: ``Idempotency-Key``). Unset: it has none, so a proxied POST is sent once
    #: and never retried (a retry after an unknown outcome could act twice).
    idempotency_header: str | None = None
    rate_per_s: float = Field(default=10.0, gt=0)
    burst: int = Field(default=10, ge=1)
    usage_throttle_pct: float = Field(default=75.0, gt=0, le=100)
    timeout_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    max_connections: int = Field(default=20, ge=1)
    max_attempts: int = Field(default=4, ge=1)
    backoff_initial_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=10.0, gt=0)
    cache_ttl_s: float = Field(default=60.0, gt=0)
    breaker: BreakerConfig = BreakerConfig()

    def limit(self) -> RateLimit:
        return RateLimit(self.rate_per_s, self.burst, self.usage_throttle_pct)

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.base_url,
            timeout_s=self.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            max_connections=self.max_connections,
            max_keepalive=self.max_connections,
            max_attempts=self.max_attempts,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s,
            cache_ttl_s=self.cache_ttl_s,
            idempotency_header=self.idempotency_header or "Idempotency-Key",
        )


def default_providers() -> dict[str, ProviderConfig]:
    # Budgets below the providers' published limits (Stripe: 25/s in test mode),
    # or conservative where none is published.
    return {
        "stripe": ProviderConfig(
            base_url="https://api.stripe.com",
            secret_env="STRIPE_SECRET_KEY",
            idempotency_header="Idempotency-Key",
            rate_per_s=20,
            burst=20,
        ),
        "abacatepay": ProviderConfig(
            base_url="https://api.abacatepay.com",
            secret_env="ABACATEPAY_API_KEY",
            rate_per_s=5,
            burst=5,
        ),
        "sendgrid": ProviderConfig(
            base_url="https://api.sendgrid.com",
            secret_env="SENDGRID_API_KEY",
            rate_per_s=10,
            burst=10,
        ),
        # Instagram Login's tokens (the OAuth preset's) are good on graph.instagram.com.
        "instagram": ProviderConfig(
            base_url="https://graph.instagram.com/v21.0", rate_per_s=2, burst=5
        ),
        # FCM's own limit is 600,000 messages a minute per project; Expo's is
        # 600 notifications a second, so 6 full batches of 100.
        "fcm": ProviderConfig(base_url="https://fcm.googleapis.com", rate_per_s=500, burst=500),
        "expo": ProviderConfig(base_url="https://exp.host", rate_per_s=6, burst=6),
        "google": ProviderConfig(
            # Google's common API host: userinfo, Drive, Gmail, Calendar... under one base.
            base_url="https://www.googleapis.com",
            rate_per_s=10,
            burst=10,
        ),
    }
