"""The daemon's supervision tree, built from the configuration: every subsystem in its place."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .admin import admin_app
from .clients import (
    ClientSettings,
    MemoryCache,
    ProviderClient,
    ResponseCache,
    StoreCache,
    error_for_status_and_body,
    instagram,
)
from .config import ABACATEPAY_PUBLIC_KEY, Config, ConfigError, RouteConfig, StoreConfig
from .resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from .runtime import ActorContext, ActorSpec, SupervisorSpec
from .store import Backend, RedisBackend, SqliteBackend, Store, store_spec
from .webhooks import (
    ForwardDestination,
    HandlerDestination,
    HttpListener,
    Route,
    WebhookIngress,
    WebhookSource,
    WebhookWorker,
)
from .webhooks.verifiers import (
    AbacatePayVerifier,
    SendGridVerifier,
    StandardVerifier,
    StripeVerifier,
    Verifier,
)

log = logging.getLogger("olactors.daemon")


def build_tree(config: Config, env: Mapping[str, str]) -> SupervisorSpec:
    """The root of the daemon's supervision tree.

    Subsystems join as child supervisors in start order, so shutdown stops
    the public listeners first and the store last. ``env`` is where secrets
    named in the config are read from; nothing below reads the environment.
    """
    supervision = config.supervision
    store = config.store
    providers = {
        name: (provider.limit(), provider.breaker.settings())
        for name, provider in config.providers.items()
    }
    # Each forward route gets a limiter and breaker of its own: one failing
    # app endpoint must not hold back the others.
    for route in named_routes(config):
        providers[forward_guard(route)] = (RateLimit(1000, 100), BreakerSettings())
    return SupervisorSpec(
        "root",
        children=[
            store_spec(
                backends(store, env),
                max_batch=store.max_batch,
                max_restarts=supervision.max_restarts,
                within_s=supervision.within_s,
                backoff=supervision.backoff(),
            ),
            # On Redis, every replica draws on one budget per provider.
            resilience_spec(
                providers, shared_store=STORE_PATH if store.backend == "redis" else None
            ),
            webhook_workers(config, env),
            # Last, so an orderly shutdown stops taking requests first.
            SupervisorSpec(
                "http",
                children=[public_listener(config, env), admin_listener(config, env)],
                max_restarts=supervision.max_restarts,
                within_s=supervision.within_s,
                backoff=supervision.backoff(),
            ),
        ],
        max_restarts=supervision.max_restarts,
        within_s=supervision.within_s,
        backoff=supervision.backoff(),
    )


STORE_PATH = "/root/store"
RESILIENCE_PATH = "/root/resilience"


def provider_client(
    config: Config,
    name: str,
    lookup: Callable[[str], Any],
    env: Mapping[str, str],
) -> ProviderClient:
    """The resilient client of provider ``name``, wired to its limiter and breaker.

    Its API key, when the provider has one, comes from the variable that
    ``secret_env`` names and goes out as a Bearer token; a missing variable
    is a :class:`ConfigError` naming it (never the value). Its GET cache is
    in memory, or in Redis through the store when the store is on Redis
    (so every replica shares it).
    """
    cache: ResponseCache = (
        StoreCache(Store.at(lookup, STORE_PATH, timeout_s=config.store.timeout_s))
        if config.store.backend == "redis"
        else MemoryCache()
    )
    provider = config.providers[name]
    headers: dict[str, str] = {}
    if provider.secret_env is not None:
        secret = env.get(provider.secret_env)
        if not secret:
            raise ConfigError(
                f"providers.{name}.secret_env names {provider.secret_env}, which is not set"
            )
        headers["Authorization"] = f"Bearer {secret}"
    settings = provider.client_settings()
    settings = dataclasses.replace(settings, headers=headers)
    guard = ProviderGuard.at(lookup, RESILIENCE_PATH, name)
    classify = instagram.classify if name == "instagram" else error_for_status_and_body
    return ProviderClient(name, settings, guard, cache=cache, classify=classify)


def webhook_sources(config: Config, env: Mapping[str, str]) -> dict[str, WebhookSource]:
    """The configured webhook sources with their verifiers; secrets read from ``env``."""
    sources: dict[str, WebhookSource] = {}
    for name, source in config.webhooks.sources.items():
        secrets = []
        for variable in source.secrets_env:
            secret = env.get(variable)
            if not secret:
                raise ConfigError(
                    f"webhooks.sources.{name}.secrets_env names {variable}, which is not set"
                )
            secrets.append(secret)
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


def named_routes(config: Config) -> list[RouteConfig]:
    """The configured routes, each with a name (``<source>-<n>`` unless given)."""
    routes = []
    for index, route in enumerate(config.webhooks.routes, start=1):
        name = route.name or f"{route.source}-{index}"
        routes.append(route.model_copy(update={"name": name}))
    return routes


def forward_guard(route: RouteConfig) -> str:
    return f"forward-{route.name}"


def webhook_workers(config: Config, env: Mapping[str, str]) -> SupervisorSpec:
    """``/root/webhooks/<source>/worker-<n>``: each source's workers and its routes."""
    webhooks = config.webhooks
    routes = named_routes(config)
    secrets: dict[str, str] = {}
    for route in routes:
        if route.signing_secret_env is not None:
            secret = env.get(route.signing_secret_env)
            if not secret:
                raise ConfigError(
                    f"route {route.name}: signing_secret_env names "
                    f"{route.signing_secret_env}, which is not set"
                )
            secrets[str(route.name)] = secret
        elif route.handler is not None:
            try:
                HandlerDestination(route.handler)  # fail at start, not at the first event
            except (ImportError, AttributeError, ValueError) as exc:
                raise ConfigError(f"route {route.name}: handler {route.handler}: {exc}") from None

    def routes_of(source: str) -> Callable[[Callable[[str], Any]], list[Route]]:
        def build(lookup: Callable[[str], Any]) -> list[Route]:
            built = []
            for route in routes:
                if route.source != source:
                    continue
                built.append(
                    Route(
                        str(route.name), source, route.events, _destination(route, secrets, lookup)
                    )
                )
            return built

        return build

    sources = [
        SupervisorSpec(
            name,
            children=[
                ActorSpec(
                    f"worker-{n}",
                    _worker_factory(
                        name,
                        routes_of(name),
                        webhooks.lease_s,
                        webhooks.retry_schedule_s,
                        webhooks.dedup_ttl_s,
                    ),
                )
                for n in range(1, source.workers + 1)
            ],
            max_restarts=max(config.supervision.max_restarts, source.workers),
            within_s=config.supervision.within_s,
            backoff=config.supervision.backoff(),
        )
        for name, source in webhooks.sources.items()
    ]
    return SupervisorSpec(
        "webhooks",
        children=sources,
        max_restarts=config.supervision.max_restarts,
        within_s=config.supervision.within_s,
        backoff=config.supervision.backoff(),
    )


def _worker_factory(
    source: str,
    routes: Callable[[Callable[[str], Any]], list[Route]],
    lease_s: float,
    schedule_s: list[float],
    marks_ttl_s: float,
) -> Callable[[], WebhookWorker]:
    return lambda: WebhookWorker(
        source, routes, STORE_PATH, lease_s=lease_s, schedule_s=schedule_s, marks_ttl_s=marks_ttl_s
    )


def _destination(
    route: RouteConfig, secrets: Mapping[str, str], lookup: Callable[[str], Any]
) -> ForwardDestination | HandlerDestination:
    if route.handler is not None:
        return HandlerDestination(route.handler)
    assert route.forward_to is not None  # the config requires one of the two
    target = urlsplit(route.forward_to)
    settings = ClientSettings(
        base_url=f"{target.scheme}://{target.netloc}", timeout_s=route.timeout_s, max_attempts=1
    )
    guard = ProviderGuard.at(lookup, RESILIENCE_PATH, forward_guard(route))
    client = ProviderClient(forward_guard(route), settings, guard)
    path = target.path + (f"?{target.query}" if target.query else "")
    return ForwardDestination(client, path or "/", secrets[str(route.name)])


def admin_listener(config: Config, env: Mapping[str, str]) -> ActorSpec:
    """The admin listener; refuses a non-loopback bind without a token."""
    admin, store = config.admin, config.store
    token = env.get(admin.token_env) or None
    host = admin.bind.rsplit(":", 1)[0].strip("[]")
    loopback = host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
    if token is None and not loopback:
        raise ConfigError(
            f"admin.bind {admin.bind} is not loopback and {admin.token_env} is not set: "
            "refusing to expose the admin listener without a token"
        )
    if token is None:
        log.warning("admin listener on %s has no token (%s unset)", admin.bind, admin.token_env)

    def app(context: ActorContext) -> Any:
        store_handle = Store.at(context.lookup, STORE_PATH, timeout_s=store.timeout_s)
        return admin_app(context, store_handle, token=token, open_probes=admin.open_probes)

    return ActorSpec("admin", lambda: HttpListener("admin", admin.bind, app))


def public_listener(config: Config, env: Mapping[str, str]) -> ActorSpec:
    """The public HTTP listener serving the webhook routes."""
    sources = webhook_sources(config, env)
    server, webhooks, store = config.server, config.webhooks, config.store

    def app(context: ActorContext) -> WebhookIngress:
        return WebhookIngress(
            sources,
            Store.at(context.lookup, STORE_PATH, timeout_s=store.timeout_s),
            max_body_bytes=server.max_body_bytes,
            dedup_ttl_s=webhooks.dedup_ttl_s,
        )

    return ActorSpec(
        "public",
        lambda: HttpListener(
            "public", server.public_bind, app, graceful_timeout_s=server.graceful_timeout_s
        ),
        # Its own graceful timeout plus room for the store to answer.
        shutdown_timeout_s=server.graceful_timeout_s + store.timeout_s,
    )


#: A backend's own time limit (sqlite busy timeout, Redis socket timeout) as a
#: share of the store's ask timeout: a batch that cannot finish fails, with
#: nothing written, before the callers waiting on it give up.
BACKEND_SHARE_OF_TIMEOUT = 0.4


def backends(store: StoreConfig, env: Mapping[str, str]) -> Callable[[str], Backend]:
    """Builds a store backend for a role ("writer" or "reader") from the config."""
    limit_s = store.timeout_s * BACKEND_SHARE_OF_TIMEOUT
    if store.backend == "sqlite":
        path, synchronous = store.sqlite_path, store.sqlite_synchronous
        return lambda role: SqliteBackend(
            path,
            role=role,  # type: ignore[arg-type]
            synchronous=synchronous,
            busy_timeout_s=limit_s,
        )
    password = None
    if store.redis_password_env is not None:
        password = env.get(store.redis_password_env)
        if not password:
            raise ConfigError(
                f"store.redis_password_env names {store.redis_password_env}, which is not set"
            )
    return lambda role: RedisBackend(
        store.redis_url,
        prefix=store.redis_prefix,
        password=password,
        connect_timeout_s=min(store.redis_connect_timeout_s, limit_s),
        timeout_s=limit_s,
    )
