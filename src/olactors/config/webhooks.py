"""``[webhooks]``: the sources that send, the routes that take their events on."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..delivery import DEFAULT_SCHEDULE_S, tolerant_breaker
from ..store import DEFAULT_KEEP_S
from ._base import Section, check_cidrs
from .providers import BreakerConfig

#: What a source or route name may be: it becomes a URL segment and part of a queue name.
NAME = r"[A-Za-z0-9_.-]{1,64}"

#: The signature schemes a webhook source may use.
SourceKind = Literal["stripe", "standard", "sendgrid", "abacatepay"]


class SourceConfig(Section):
    """A webhook sender at ``POST /webhooks/<name>``.

    ``secrets_env`` names the variables holding its signing secrets (several
    during a rotation: any of them passes). SendGrid verifies with
    ``public_key`` (base64 DER, from its settings page); AbacatePay with the
    public HMAC key it publishes (the default) plus the shared secret.
    """

    kind: SourceKind
    secrets_env: list[str] = Field(default_factory=list)
    public_key: str | None = None
    tolerance_s: float = Field(default=300.0, gt=0)
    #: Deliveries of this source's events in flight at once, all routes together.
    concurrency: int = Field(default=128, ge=1)
    #: What becomes of an event that matches no route: logged as "dropped"
    #: (default), or kept as "unrouted" so it can be sent on once a route exists.
    unrouted: Literal["drop", "keep"] = "drop"
    #: Networks (CIDRs) the provider sends from; empty: anywhere. Behind a load
    #: balancer, list it in server.trusted_proxies so X-Forwarded-For is read.
    #: AbacatePay's proof of origin is a static secret: this is what stops a
    #: leaked URL from being used elsewhere.
    allow_from: list[str] = Field(default_factory=list)

    _networks = field_validator("allow_from")(check_cidrs)

    @model_validator(mode="after")
    def _has_what_its_kind_needs(self) -> SourceConfig:
        if self.kind == "sendgrid" and not self.public_key:
            raise ValueError("a sendgrid source needs public_key (base64 DER, from SendGrid)")
        if self.kind != "sendgrid" and not self.secrets_env:
            raise ValueError(f"a {self.kind} source needs secrets_env")
        return self


_ROUTE_BREAKER = tolerant_breaker()


class RouteBreakerConfig(BreakerConfig):
    """A route's breaker, with ``tolerant_breaker``'s defaults: an app failing 30 % of
    the time does not trip it by chance."""

    window_size: int = Field(default=_ROUTE_BREAKER.window_size, ge=1)
    minimum_calls: int = Field(default=_ROUTE_BREAKER.minimum_calls, ge=1)
    failure_rate_pct: float = Field(default=_ROUTE_BREAKER.failure_rate_pct, gt=0, le=100)
    slow_call_s: float = Field(default=_ROUTE_BREAKER.slow_call_s, gt=0)
    open_s: float = Field(default=_ROUTE_BREAKER.open_s, gt=0)
    trial_timeout_s: float = Field(default=_ROUTE_BREAKER.trial_timeout_s, gt=0)


class OrderingConfig(Section):
    #: A dotted path into the event's JSON; events with the same value there
    #: are delivered one at a time, in arrival order.
    key: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class RouteConfig(Section):
    """Events of ``source`` whose type matches one of ``events`` (globs) go to a
    destination: ``forward_to`` (the app's URL, signed with Standard Webhooks
    headers keyed by the secret ``signing_secret_env`` names) or ``handler``
    (``"package.module:function"``)."""

    source: str
    events: list[str] = Field(min_length=1)
    name: str | None = Field(default=None, pattern=f"^{NAME}$")
    forward_to: str | None = None
    signing_secret_env: str | None = None
    handler: str | None = None
    #: Refresh the record the event names in this sync ([sync.syncs.<name>]),
    #: its id at ``sync_id_path`` (Stripe's events: data.object.id), instead
    #: of waiting for the sync's schedule.
    sync: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,39}$")
    sync_id_path: str = Field(
        default="data.object.id", pattern=r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$"
    )
    #: One attempt's time limit (a handler's too).
    timeout_s: float = Field(default=10.0, gt=0)
    #: Attempts to this destination at once (within the source's concurrency).
    #: A route delivers at most this many per store round trip (a claim), so
    #: size it to its rate times (attempt latency + commit latency).
    max_in_flight: int = Field(default=64, ge=1)
    #: Attempts per second on average (None: no limit), ``burst`` at once.
    rate_per_s: float | None = Field(default=None, gt=0)
    burst: int = Field(default=1, ge=1)
    breaker: RouteBreakerConfig = RouteBreakerConfig()
    ordering: OrderingConfig | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> RouteConfig:
        chosen = [d for d in (self.forward_to, self.handler, self.sync) if d is not None]
        if len(chosen) != 1:
            raise ValueError("a route has exactly one of forward_to, handler or sync")
        if self.forward_to is not None and not self.signing_secret_env:
            raise ValueError("a forward_to route needs signing_secret_env")
        return self


class WebhooksConfig(Section):
    #: How long an event id is remembered to answer a resend as a duplicate.
    dedup_ttl_s: float = Field(default=DEFAULT_KEEP_S, gt=0)
    #: Waits between delivery attempts (jittered); after the last, a dead letter.
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE_S), min_length=1
    )
    #: How long a courier holds an event; a dead one's events come back after it.
    lease_s: float = Field(default=60.0, gt=0)
    #: An event claimed more often than this without an outcome (whatever had
    #: it kept dying) is dead-lettered. None: the attempts plus 3.
    max_claims: int | None = Field(default=None, ge=1)
    #: How long each event, its deliveries and attempts are kept after it was
    #: received or last tried (never while still pending).
    retention_s: float = Field(default=DEFAULT_KEEP_S, gt=0)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    routes: list[RouteConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _routes_name_known_sources(self) -> WebhooksConfig:
        for route in self.routes:
            if route.source not in self.sources:
                raise ValueError(f"a route names source {route.source!r}, which is not configured")
            if route.timeout_s >= self.lease_s * 0.8:
                raise ValueError(
                    f"a route's timeout_s ({route.timeout_s:g}) must stay below 80% of "
                    f"lease_s ({self.lease_s:g}), or another courier could take the event"
                )
        if self.max_claims is not None and self.max_claims <= len(self.retry_schedule_s):
            raise ValueError("max_claims must exceed the number of attempts in the schedule")
        for name, source in self.sources.items():
            # A resend inside the signature's tolerance must still be known,
            # or it is processed twice.
            if source.tolerance_s > self.dedup_ttl_s:
                raise ValueError(
                    f"dedup_ttl_s ({self.dedup_ttl_s:g}) must be at least source {name}'s "
                    f"tolerance_s ({source.tolerance_s:g})"
                )
        return self

    @field_validator("sources")
    @classmethod
    def _names_fit_a_url_and_a_queue(
        cls, sources: dict[str, SourceConfig]
    ) -> dict[str, SourceConfig]:
        for name in sources:
            if not re.fullmatch(NAME, name):
                raise ValueError(f"source name {name!r} must be letters, digits, _ . - (1-64)")
        return sources
