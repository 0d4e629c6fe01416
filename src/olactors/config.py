"""The daemon's one configuration object, loaded from TOML and passed down.

No other module reads the configuration file or the environment on its own:
the CLI loads a :class:`Config` once and hands it to whoever needs a part of
it. The defaults below *are* the embedded default configuration, and
``config/olactors.toml`` spells them out (a test keeps the two equal).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .clients import ClientSettings
from .delivery import DEFAULT_SCHEDULE_S, tolerant_breaker
from .resilience import BreakerSettings, RateLimit
from .runtime import Backoff

#: Where ``olactors run`` looks when no ``--config`` is given.
DEFAULT_CONFIG_PATH = Path("config/olactors.toml")


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or not valid."""


class _Section(BaseModel):
    # Unknown keys are typos until proven otherwise: refuse them. TOML spells
    # inf and nan; no duration, rate or size here means either.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DaemonConfig(_Section):
    #: How long an orderly shutdown may take before it is forced.
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    #: The daemon's own files (the generated admin token): created 0700, files 0600.
    state_dir: Path = Path("var")


class SupervisionConfig(_Section):
    """Defaults for every supervisor in the tree: Erlang/OTP's intensity."""

    max_restarts: int = Field(default=1, ge=0)
    within_s: float = Field(default=5.0, gt=0)
    backoff_initial_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=5.0, ge=0)
    backoff_multiplier: float = Field(default=2.0, ge=1)
    backoff_jitter: float = Field(default=0.5, ge=0, le=1)
    #: A child that stayed up this long is stable: its restart count starts over.
    backoff_reset_after_s: float = Field(default=30.0, ge=0)
    #: Restarts without being stable before its supervisor gives up and
    #: escalates: a crash loop slower than the intensity window ends here.
    backoff_max_tries: int = Field(default=10, ge=1)

    def backoff(self) -> Backoff:
        return Backoff(
            initial_s=self.backoff_initial_s,
            multiplier=self.backoff_multiplier,
            max_s=self.backoff_max_s,
            jitter=self.backoff_jitter,
            reset_after_s=self.backoff_reset_after_s,
            max_tries=self.backoff_max_tries,
        )


class StoreConfig(_Section):
    """Where durable state lives: an embedded sqlite file, or a Redis shared by replicas."""

    backend: Literal["sqlite", "redis"] = "sqlite"
    sqlite_path: Path = Path("var/olactors.db")
    #: FULL fsyncs at every commit; NORMAL may lose the last commits on power loss.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: The environment variable that holds the Redis password, if it needs one.
    redis_password_env: str | None = None
    redis_prefix: str = "olactors"
    redis_connect_timeout_s: float = Field(default=1.0, gt=0)
    #: How long a store call may take before the caller gets StoreUnavailable.
    timeout_s: float = Field(default=5.0, gt=0)
    #: Commands per shared commit at most (one sqlite transaction, one Redis pipeline).
    max_batch: int = Field(default=512, ge=1)

    @field_validator("redis_url")
    @classmethod
    def _no_password_in_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        # redis-py also reads a password from the query (?password=): refuse
        # it there too, so a secret never sits in a file or a printed URL. A
        # user name alone (Redis ACL) is not a secret.
        query = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
        if parts.password is not None or "password" in query:
            raise ValueError(
                "must not hold credentials: name the password's variable in redis_password_env"
            )
        return url


class BreakerConfig(_Section):
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


class ProviderConfig(_Section):
    """One third-party API: where it is, its budget, its timeouts and retries.

    The credential is never here: ``secret_env`` names the environment
    variable that holds it (sent as a Bearer token).
    """

    base_url: str
    secret_env: str | None = None
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
        )


def _default_providers() -> dict[str, ProviderConfig]:
    # Budgets below the providers' published limits (Stripe: 25/s in test mode),
    # or conservative where none is published.
    return {
        "stripe": ProviderConfig(
            base_url="https://api.stripe.com",
            secret_env="STRIPE_SECRET_KEY",
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
        "instagram": ProviderConfig(
            base_url="https://graph.facebook.com/v21.0", rate_per_s=2, burst=5
        ),
        "google": ProviderConfig(
            base_url="https://openidconnect.googleapis.com", rate_per_s=10, burst=10
        ),
    }


class ServerConfig(_Section):
    """The public listener: webhooks (later also OAuth callbacks and the websocket)."""

    public_bind: str = "127.0.0.1:8080"
    #: Bodies over this are refused with 413 while being read.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    #: On shutdown, in-flight requests get this long to finish.
    graceful_timeout_s: float = Field(default=10.0, ge=0)
    #: A connection whose request headers are not complete this long after it
    #: opened (or after its last answer) is closed.
    header_timeout_s: float = Field(default=5.0, gt=0)
    #: A body not fully arrived this long after its headers is answered 408.
    body_timeout_s: float = Field(default=10.0, gt=0)
    #: Connections held open at once; past it a new one is answered 503.
    max_connections: int = Field(default=1000, ge=1)
    #: Bytes of request bodies held at once across every request; past it 503.
    max_bodies_in_flight_bytes: int = Field(default=64 * 1_048_576, ge=1)
    #: HTTP/2 without TLS (prior knowledge or Upgrade: h2c). Off: behind a load
    #: balancer nothing needs it, and one connection could open many streams.
    http2_cleartext: bool = False
    #: Load balancers and proxies (CIDRs) whose X-Forwarded-For is believed when
    #: a source has allow_from; any other peer is the sender itself.
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)
        return cidrs

    @model_validator(mode="after")
    def _a_body_fits_the_budget(self) -> ServerConfig:
        if self.max_bodies_in_flight_bytes < self.max_body_bytes:
            raise ValueError("max_bodies_in_flight_bytes must hold at least one max_body_bytes")
        return self


#: AbacatePay's public HMAC key for X-Webhook-Signature, as its docs publish it.
ABACATEPAY_PUBLIC_KEY = (
    "t9dXRhHHo3yDEj5pVDYz0frf7q6bMKyMRmxxCPIPp3RCplBfXRxqlC6ZpiWmOqj4L63qEaeUOtrCI8P0VMUgo6iIga2"
    "ri9ogaHFs0WIIywSMg0q7RmBfybe1E5XJcfC4IW3alNqym0tXoAKkzvfEjZxV6bE0oG2zJrNNYmUCKZyV0KZ3JS8Vo"
    "tf9EAWWYdiDkMkpbMdPggfh1EqHlVkMiTady6jOR3hyzGEHrIz2Ret0xHKMbiqkr9HS1JhNHDX9"
)


class SourceConfig(_Section):
    """A webhook sender at ``POST /webhooks/<name>``.

    ``secrets_env`` names the variables holding its signing secrets (several
    during a rotation: any of them passes). SendGrid verifies with
    ``public_key`` (base64 DER, from its settings page); AbacatePay with the
    public HMAC key it publishes (the default) plus the shared secret.
    """

    kind: Literal["stripe", "standard", "sendgrid", "abacatepay"]
    secrets_env: list[str] = []
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
    allow_from: list[str] = []

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        return cidrs

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


class OrderingConfig(_Section):
    #: A dotted path into the event's JSON; events with the same value there
    #: are delivered one at a time, in arrival order.
    key: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class RouteConfig(_Section):
    """Events of ``source`` whose type matches one of ``events`` (globs) go to a
    destination: ``forward_to`` (the app's URL, signed with Standard Webhooks
    headers keyed by the secret ``signing_secret_env`` names) or ``handler``
    (``"package.module:function"``)."""

    source: str
    events: list[str] = Field(min_length=1)
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    forward_to: str | None = None
    signing_secret_env: str | None = None
    handler: str | None = None
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
        if (self.forward_to is None) == (self.handler is None):
            raise ValueError("a route has exactly one of forward_to or handler")
        if self.forward_to is not None and not self.signing_secret_env:
            raise ValueError("a forward_to route needs signing_secret_env")
        return self


class WebhooksConfig(_Section):
    #: How long an event id is remembered to answer a resend as a duplicate.
    dedup_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0)
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
    retention_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    sources: dict[str, SourceConfig] = {}
    routes: list[RouteConfig] = []

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
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ValueError(f"source name {name!r} must be letters, digits, _ . - (1-64)")
        return sources


class DeliveryConfig(_Section):
    """The delivery engine, for every user of it."""

    #: At an orderly shutdown, attempts in progress get this long to finish;
    #: the rest are cancelled and their events given back untried.
    drain_s: float = Field(default=10.0, gt=0)
    #: The most events a courier claims in one store call.
    claim_batch: int = Field(default=64, ge=1, le=1000)


class AdminConfig(_Section):
    """The admin listener: loopback by default; elsewhere only with a token."""

    bind: str = "127.0.0.1:8081"
    #: The variable holding the bearer token every admin call must carry.
    token_env: str = "OLACTORS_ADMIN_TOKEN"
    #: Let /healthz, /readyz and /metrics answer without the token (load
    #: balancers, Prometheus).
    open_probes: bool = False
    #: Connections held open at once (operators, Prometheus, a dashboard or two).
    max_connections: int = Field(default=64, ge=1)
    #: Host names the admin answers to besides 127.0.0.1, localhost, ::1 and its
    #: bind's host (what a load balancer's probe sends as Host, say). Any other
    #: Host is refused: a DNS-rebinding page cannot read the admin.
    allowed_hosts: list[str] = []
    #: A dashboard login lasts this long; logging out ends it sooner.
    session_ttl_s: float = Field(default=8 * 3600.0, gt=0)


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "json": one object per line; "text": readable lines; "auto": text on a
    #: terminal, JSON otherwise (a service manager, a container).
    format: Literal["auto", "json", "text"] = "auto"


class Config(_Section):
    daemon: DaemonConfig = DaemonConfig()
    server: ServerConfig = ServerConfig()
    admin: AdminConfig = AdminConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    store: StoreConfig = StoreConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=_default_providers)
    webhooks: WebhooksConfig = WebhooksConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    log: LogConfig = LogConfig()

    @model_validator(mode="after")
    def _shutdown_outlasts_the_listeners(self) -> Config:
        # The listeners finish in-flight requests for graceful_timeout_s, then
        # wait for the store: a daemon that forces its shutdown sooner would
        # turn every orderly stop with a request open into a kill.
        needed = self.server.graceful_timeout_s + self.store.timeout_s
        if self.daemon.shutdown_timeout_s <= needed:
            raise ValueError(
                f"daemon.shutdown_timeout_s ({self.daemon.shutdown_timeout_s:g}) must exceed "
                f"server.graceful_timeout_s + store.timeout_s ({needed:g})"
            )
        return self

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read and validate ``path``; :class:`ConfigError` says what is wrong, and where."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from None

    @classmethod
    def discover(cls, path: Path | None) -> tuple[Config, str]:
        """The configuration to run with, and where it came from.

        An explicit ``path`` must exist. Without one, ``config/olactors.toml``
        under the working directory is used when present, else the embedded
        defaults.
        """
        if path is not None:
            return cls.load(path), str(path)
        if DEFAULT_CONFIG_PATH.is_file():
            return cls.load(DEFAULT_CONFIG_PATH), str(DEFAULT_CONFIG_PATH)
        return cls(), "embedded defaults"
