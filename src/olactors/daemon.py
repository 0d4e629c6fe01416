"""The daemon: the supervision tree built from the config, run until a signal."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import trio

from .clients import (
    MemoryCache,
    ProviderClient,
    ResponseCache,
    StoreCache,
    error_for_status_and_body,
    instagram,
)
from .config import ABACATEPAY_PUBLIC_KEY, Config, ConfigError, StoreConfig
from .resilience import ProviderGuard, resilience_spec
from .runtime import ActorSpec, ActorSystem, ChildStartFailed, SupervisorSpec, TopLevelFailure
from .store import Backend, RedisBackend, SqliteBackend, Store, store_spec
from .webhooks import HttpListener, WebhookIngress, WebhookSource
from .webhooks.verifiers import (
    AbacatePayVerifier,
    SendGridVerifier,
    StandardVerifier,
    StripeVerifier,
    Verifier,
)

log = logging.getLogger("olactors.daemon")

#: Exit codes of ``olactors run``.
EXIT_OK = 0
EXIT_FAILED = 1  #: the tree could not start, its root gave up, or shutdown overran
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
            # Last, so an orderly shutdown stops taking requests first.
            SupervisorSpec(
                "http",
                children=[public_listener(config, env)],
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


def public_listener(config: Config, env: Mapping[str, str]) -> ActorSpec:
    """The public HTTP listener serving the webhook routes."""
    sources = webhook_sources(config, env)
    server, webhooks, store = config.server, config.webhooks, config.store

    def app(lookup: Callable[[str], Any]) -> WebhookIngress:
        return WebhookIngress(
            sources,
            Store.at(lookup, STORE_PATH, timeout_s=store.timeout_s),
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


async def serve(system: ActorSystem, config: Config, signals: AsyncIterator[int]) -> int:
    """Run ``system`` until a stop signal arrives on ``signals``; return the exit code.

    The first signal starts an orderly shutdown (reverse start order, each
    actor draining its mailbox); a second one, or the shutdown overrunning
    ``daemon.shutdown_timeout_s``, forces it. A forced stop exits with 128 +
    the signal's number, or 1 after an overrun.
    """
    code = EXIT_OK
    async with trio.open_nursery() as nursery:
        forced_by: list[int] = []
        nursery.start_soon(_watch, system, config.daemon.shutdown_timeout_s, signals, forced_by)
        try:
            await system.run(task_status=_Announce())
        except ChildStartFailed as exc:
            log.critical("olactors could not start: %s", exc)
            code = EXIT_FAILED
        except TopLevelFailure as exc:
            log.critical("olactors stopped: %s", exc)
            code = EXIT_FAILED
        else:
            if system.forced:
                code = 128 + forced_by[0] if forced_by else EXIT_FAILED
                log.warning("olactors stopped by force (exit %d)", code)
            else:
                log.info("olactors stopped cleanly")
        nursery.cancel_scope.cancel()
    return code


async def _watch(
    system: ActorSystem, grace_s: float, signals: AsyncIterator[int], forced_by: list[int]
) -> None:
    async for signum in signals:
        log.warning(
            "%s received: stopping in order (send it again to force)", signal.Signals(signum).name
        )
        system.shutdown()
        break
    else:
        return
    with trio.move_on_after(grace_s):
        async for signum in signals:
            log.warning("%s received again: forcing shutdown", signal.Signals(signum).name)
            forced_by.append(signum)
            system.force_stop()
            return
    log.error("orderly shutdown took longer than %g s: forcing it", grace_s)
    system.force_stop()


async def run_daemon(config: Config) -> int:
    """Build the tree from ``config`` and serve it on the process's real signals."""
    system = ActorSystem(build_tree(config, os.environ))
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        return await serve(system, config, signals)


class _Announce:
    """Says so once the whole tree is up (what operators and tests wait for)."""

    def started(self, value: bool | None = None) -> None:
        log.info("olactors running (pid %d); SIGINT or SIGTERM stops it", os.getpid())
