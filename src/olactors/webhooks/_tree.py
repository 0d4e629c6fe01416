"""The webhook subsystem from ``[webhooks]``: sources with verifiers, routers, destinations."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import trio

from ..config import Config, ConfigError, RouteConfig, WebhooksConfig, read_secret
from ..delivery import (
    HANDLER_THREADS,
    DeliveryGroup,
    Destination,
    DestinationSpec,
    HandlerDestination,
    HttpDestination,
    RetryPolicy,
    wake_courier,
)
from ..http import Mount
from ..runtime import ActorContext
from ..store import STORE_PATH, Delivery, Store
from ._budget import BodyBudget
from ._ingress import PREFIX, WebhookIngress, WebhookSource
from ._routes import Route, Router, namespace_of
from ._schemes import SCHEMES
from ._senders import networks

log = logging.getLogger("olactors.webhooks")


def webhooks_mount(config: Config, env: Mapping[str, str]) -> Mount:
    """The ingress, served at ``/webhooks/`` on the public listener.

    Every source's secrets are read here, so a source that cannot verify
    fails the start, not the first event.
    """
    sources = webhook_sources(config.webhooks, env)
    routers = webhook_routers(config.webhooks)
    server, webhooks, store = config.server, config.webhooks, config.store
    # One budget for every incarnation: a restarted listener starts from zero
    # anyway (its requests ended with it), and the figure stays one place.
    budget = BodyBudget(server.max_bodies_in_flight_bytes)
    proxies = networks(server.trusted_proxies)

    def app(context: ActorContext, closing: trio.Event) -> WebhookIngress:
        def wake(namespace: str, deliveries: list[Delivery]) -> None:
            for delivery in deliveries:
                wake_courier(context, delivery.queue)

        return WebhookIngress(
            sources,
            Store.at(context, STORE_PATH, timeout_s=store.timeout_s),
            routers=routers,
            wake=wake,
            max_body_bytes=server.max_body_bytes,
            body_timeout_s=server.body_timeout_s,
            budget=budget,
            dedup_ttl_s=webhooks.dedup_ttl_s,
            retention_s=webhooks.retention_s,
            trusted_proxies=proxies,
            clock=context.clock,
        )

    return Mount(PREFIX, app)


def webhook_sources(config: WebhooksConfig, env: Mapping[str, str]) -> dict[str, WebhookSource]:
    """The configured webhook sources with their verifiers; secrets read from ``env``."""
    sources: dict[str, WebhookSource] = {}
    for name, source in config.sources.items():
        where = f"webhooks.sources.{name}.secrets_env"
        scheme = SCHEMES[source.kind]
        secrets = [read_secret(env, variable, where) for variable in source.secrets_env]
        for variable, secret in zip(source.secrets_env, secrets, strict=True):
            try:
                if scheme.check_secret is not None:
                    scheme.check_secret(secret)
            except ValueError as exc:
                raise ConfigError(f"{where}: {variable}: {exc}") from None
        if scheme.static_secret and not source.allow_from:
            log.warning(
                "webhook source %s (%s): its proof of origin is a static secret; set "
                "allow_from to the provider's addresses so a leaked URL is no use elsewhere",
                name,
                source.kind,
            )
        verifier = scheme.build(source, secrets, config)
        sources[name] = WebhookSource(name, source.kind, verifier, networks(source.allow_from))
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


#: Builds a ``sync`` route's destination from the sync's name and the id path (the
#: sync capability's, handed in by the composition root).
SyncRoute = Callable[[str, str], Callable[[ActorContext], Destination]]


def webhook_deliveries(
    config: WebhooksConfig,
    env: Mapping[str, str],
    *,
    claim_batch: int = 64,
    sync_route: SyncRoute | None = None,
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
                    _maker(route, env, sync_route),
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


def _maker(
    route: RouteConfig, env: Mapping[str, str], sync_route: SyncRoute | None
) -> Callable[[ActorContext], Destination]:
    """What builds the route's destination anew at each courier start."""
    if route.sync is not None:
        if sync_route is None:
            raise ConfigError(f"route {route.name}: sync routes need the sync capability")
        return sync_route(route.sync, route.sync_id_path)
    if route.handler is not None:
        target = route.handler
        try:
            HandlerDestination(target)  # fail at start, not at the first event
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"route {route.name}: handler {target}: {exc}") from None
        # One pool per route, kept across courier restarts: threads abandoned
        # before a restart still hold their place in it.
        threads = trio.CapacityLimiter(min(route.max_in_flight, HANDLER_THREADS))
        return lambda refs: HandlerDestination(target, threads)
    assert route.forward_to is not None  # the config requires it without a handler
    assert route.signing_secret_env is not None  # and a secret with it
    url, timeout_s, connections = route.forward_to, route.timeout_s, route.max_in_flight
    secret = read_secret(env, route.signing_secret_env, f"route {route.name}: signing_secret_env")
    try:
        HttpDestination.check_secret(secret)
    except ValueError as exc:
        raise ConfigError(f"route {route.name}: signing_secret_env: {exc}") from None
    return lambda refs: HttpDestination(
        url, secret, timeout_s=timeout_s, max_connections=connections
    )
