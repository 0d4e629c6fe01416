"""The daemon's supervision tree, built from the configuration: every subsystem in its place."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import trio

from .admin import admin_spec
from .clients import (
    MemoryCache,
    ProviderClient,
    ResponseCache,
    StoreCache,
    error_for_status_and_body,
    instagram,
)
from .config import Config, StoreConfig, read_secret
from .delivery import delivery_spec, wake_courier
from .http import EdgeLimits, PrefixDispatcher, listener_spec
from .resilience import RESILIENCE_PATH, ProviderGuard, resilience_spec
from .runtime import ActorContext, ActorSpec, SupervisorSpec
from .store import (
    STORE_PATH,
    Backend,
    Delivery,
    QueueWakes,
    RedisBackend,
    SqliteBackend,
    Store,
    store_spec,
)
from .webhooks import (
    PREFIX,
    BodyBudget,
    WebhookIngress,
    networks,
    webhook_deliveries,
    webhook_routers,
    webhook_sources,
)


def build_tree(config: Config, env: Mapping[str, str]) -> SupervisorSpec:
    """The root of the daemon's supervision tree.

    Subsystems join as child supervisors in start order, so shutdown stops
    the public listeners first and the store last. ``env`` is where secrets
    named in the config are read from; nothing below reads the environment.
    """
    supervision = config.supervision
    supervised = supervision.options()
    store = config.store
    providers = {
        name: (provider.limit(), provider.breaker.settings())
        for name, provider in config.providers.items()
    }
    return SupervisorSpec(
        "root",
        children=[
            store_spec(
                backends(store, env),
                max_batch=store.max_batch,
                **supervised,
            ),
            # On Redis, every replica draws on one budget per provider.
            resilience_spec(
                providers, shared_store=STORE_PATH if store.backend == "redis" else None
            ),
            # Each route's breaker and limit live in its courier: one failing
            # app endpoint does not hold back the others.
            delivery_spec(
                webhook_deliveries(config.webhooks, env, claim_batch=config.delivery.claim_batch),
                STORE_PATH,
                drain_s=config.delivery.drain_s,
                wakes=queue_wakes(store, env),
                **(supervised | {"max_restarts": max(supervision.max_restarts, 5)}),
            ),
            # Last, so an orderly shutdown stops taking requests first.
            SupervisorSpec(
                "http",
                children=[public_listener(config, env), admin_spec(config, env, STORE_PATH)],
                **supervised,
            ),
        ],
        **supervised,
    )


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
        secret = read_secret(env, provider.secret_env, f"providers.{name}.secret_env")
        headers["Authorization"] = f"Bearer {secret}"
    settings = provider.client_settings()
    settings = dataclasses.replace(settings, headers=headers)
    guard = ProviderGuard.at(lookup, RESILIENCE_PATH, name)
    classify = instagram.classify if name == "instagram" else error_for_status_and_body
    return ProviderClient(name, settings, guard, cache=cache, classify=classify)


def public_listener(config: Config, env: Mapping[str, str]) -> ActorSpec:
    """The public HTTP listener serving the webhook routes."""
    sources = webhook_sources(config.webhooks, env)
    routers = webhook_routers(config.webhooks)
    server, webhooks, store = config.server, config.webhooks, config.store
    # One budget for every incarnation: a restarted listener starts from zero
    # anyway (its requests ended with it), and the figure stays one place.
    budget = BodyBudget(server.max_bodies_in_flight_bytes)
    proxies = networks(server.trusted_proxies)

    def app(context: ActorContext, closing: trio.Event) -> PrefixDispatcher:
        def wake(namespace: str, deliveries: list[Delivery]) -> None:
            for delivery in deliveries:
                wake_courier(context.lookup, delivery.queue)

        ingress = WebhookIngress(
            sources,
            Store.at(context.lookup, STORE_PATH, timeout_s=store.timeout_s),
            routers=routers,
            wake=wake,
            max_body_bytes=server.max_body_bytes,
            body_timeout_s=server.body_timeout_s,
            budget=budget,
            dedup_ttl_s=webhooks.dedup_ttl_s,
            retention_s=webhooks.retention_s,
            trusted_proxies=proxies,
        )
        # Each capability is mounted at its own prefix; OAuth and the websocket join here.
        return PrefixDispatcher({PREFIX: ingress})

    # Its own graceful timeout plus room for the store to answer.
    return listener_spec(
        "public",
        server.public_bind,
        app,
        graceful_timeout_s=server.graceful_timeout_s,
        settle_s=store.timeout_s,
        header_timeout_s=server.header_timeout_s,
        limits=EdgeLimits(server.max_connections, http2_cleartext=server.http2_cleartext),
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
    password = redis_password(store, env)
    return lambda role: RedisBackend(
        store.redis_url,
        prefix=store.redis_prefix,
        password=password,
        connect_timeout_s=min(store.redis_connect_timeout_s, limit_s),
        timeout_s=limit_s,
    )


def redis_password(store: StoreConfig, env: Mapping[str, str]) -> str | None:
    """The Redis password from the variable ``redis_password_env`` names, if it names one."""
    if store.redis_password_env is None:
        return None
    return read_secret(env, store.redis_password_env, "store.redis_password_env")


def queue_wakes(store: StoreConfig, env: Mapping[str, str]) -> ActorSpec | None:
    """On Redis, the listener that wakes this replica's couriers for work another stored."""
    if store.backend != "redis":
        return None  # one process: the publisher wakes its couriers itself
    url, prefix, password = store.redis_url, store.redis_prefix, redis_password(store, env)
    return ActorSpec(
        "wakes",
        lambda: QueueWakes(url, prefix=prefix, password=password, on_wake=wake_courier),
    )
