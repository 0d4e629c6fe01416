"""The webhook subsystem from ``[webhooks]``: sources with verifiers, routers, destinations."""

from __future__ import annotations

from collections.abc import Mapping

from ..config import ABACATEPAY_PUBLIC_KEY, ConfigError, RouteConfig, WebhooksConfig
from ..delivery import (
    DeliveryGroup,
    Destination,
    DestinationSpec,
    HandlerDestination,
    HttpDestination,
    RetryPolicy,
)
from ._ingress import WebhookSource
from ._routes import Route, Router, namespace_of
from .verifiers import (
    AbacatePayVerifier,
    SendGridVerifier,
    StandardVerifier,
    StripeVerifier,
    Verifier,
)


def _secret(env: Mapping[str, str], variable: str, where: str) -> str:
    secret = env.get(variable)
    if not secret:
        raise ConfigError(f"{where} names {variable}, which is not set")
    return secret


def webhook_sources(config: WebhooksConfig, env: Mapping[str, str]) -> dict[str, WebhookSource]:
    """The configured webhook sources with their verifiers; secrets read from ``env``."""
    sources: dict[str, WebhookSource] = {}
    for name, source in config.sources.items():
        where = f"webhooks.sources.{name}.secrets_env"
        secrets = [_secret(env, variable, where) for variable in source.secrets_env]
        verifier: Verifier
        if source.kind == "stripe":
            verifier = StripeVerifier(secrets, tolerance_s=source.tolerance_s)
        elif source.kind == "standard":
            verifier = StandardVerifier(secrets, tolerance_s=source.tolerance_s)
        elif source.kind == "sendgrid":
            assert source.public_key is not None  # the config requires it
            verifier = SendGridVerifier(source.public_key, tolerance_s=source.tolerance_s)
        else:
            verifier = AbacatePayVerifier(secrets, source.public_key or ABACATEPAY_PUBLIC_KEY)
        sources[name] = WebhookSource(name, source.kind, verifier)
    return sources


def named_routes(config: WebhooksConfig) -> list[RouteConfig]:
    """The configured routes, each with a name (``<source>-<n>`` unless given)."""
    routes = []
    for index, route in enumerate(config.routes, start=1):
        name = route.name or f"{route.source}-{index}"
        routes.append(route.model_copy(update={"name": name}))
    return routes


def webhook_routers(config: WebhooksConfig) -> dict[str, Router]:
    """Each source's router: its routes in the configured order."""
    routes = named_routes(config)
    return {
        source: Router(
            source,
            [
                Route(str(r.name), r.events, r.ordering.key if r.ordering else None)
                for r in routes
                if r.source == source
            ],
            settings.unrouted,
        )
        for source, settings in config.sources.items()
    }


def webhook_deliveries(
    config: WebhooksConfig, env: Mapping[str, str], *, claim_batch: int = 64
) -> list[DeliveryGroup]:
    """One delivery group per source, one destination per route.

    Every secret is read and every handler imported here, so a route that
    cannot work fails the start, not the first event.
    """
    policy = RetryPolicy(tuple(config.retry_schedule_s), max_claims=config.max_claims)
    groups = []
    for source, settings in config.sources.items():
        specs = []
        for route in named_routes(config):
            if route.source != source:
                continue
            specs.append(
                DestinationSpec(
                    namespace_of(source),
                    str(route.name),
                    _maker(route, env),
                    policy=policy,
                    max_in_flight=route.max_in_flight,
                    breaker=route.breaker.settings(),
                    rate_per_s=route.rate_per_s,
                    burst=route.burst,
                    timeout_s=route.timeout_s,
                    lease_s=config.lease_s,
                    claim_batch=claim_batch,
                )
            )
        groups.append(DeliveryGroup(namespace_of(source), specs, settings.concurrency))
    return groups


def _maker(route: RouteConfig, env: Mapping[str, str]) -> _Make:
    if route.handler is not None:
        try:
            HandlerDestination(route.handler)  # fail at start, not at the first event
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"route {route.name}: handler {route.handler}: {exc}") from None
        return _Make(route, None)
    assert route.signing_secret_env is not None  # the config requires it with forward_to
    secret = _secret(env, route.signing_secret_env, f"route {route.name}: signing_secret_env")
    try:
        HttpDestination.check_secret(secret)
    except ValueError as exc:
        raise ConfigError(f"route {route.name}: signing_secret_env: {exc}") from None
    return _Make(route, secret)


class _Make:
    """Builds a route's destination anew at each courier start."""

    def __init__(self, route: RouteConfig, secret: str | None) -> None:
        self._route = route
        self._secret = secret

    def __call__(self) -> Destination:
        route = self._route
        if route.handler is not None:
            return HandlerDestination(route.handler)
        assert route.forward_to is not None
        assert self._secret is not None
        return HttpDestination(
            route.forward_to,
            self._secret,
            timeout_s=route.timeout_s,
            max_connections=route.max_in_flight,
        )
