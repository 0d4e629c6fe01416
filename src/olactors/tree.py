"""The daemon's supervision tree, built from the configuration: every subsystem in its place.

This is the composition root and nothing else: each package builds its own
subtree (``store_spec``, ``resilience_spec``, ``delivery_spec``,
``admin_spec``) and its share of the public listener (a :class:`Mount`);
here they are put in start order. A new capability joins with its subtree
and its mount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .admin import admin_spec
from .api import api_spec
from .broadcast import (
    BROADCAST_NAMESPACE,
    broadcast_api,
    broadcast_mount,
    broadcast_spec,
    channel_courier,
    domain_events,
)
from .chaos import Chaos
from .config import Config
from .delivery import delivery_spec, queue_wakes
from .http import EdgeLimits, Mount, listener_spec, mounted
from .oauth import OAuth
from .processes import Handover, presence_spec
from .proxy import proxy_part
from .resilience import resilience_spec
from .runtime import ActorSpec, SupervisorSpec
from .storage import Storage
from .store import STORE_PATH, store_spec
from .sync import Sync
from .webhooks import webhook_deliveries, webhooks_mount


def build_tree(config: Config, env: Mapping[str, str]) -> SupervisorSpec:
    """The root of the daemon's supervision tree.

    Subsystems join as child supervisors in start order, so shutdown stops
    the public listeners first and the store last. ``env`` is where secrets
    named in the config are read from; nothing below reads the environment.
    """
    supervision = config.supervision
    supervised = supervision.options()
    store, delivery = config.store, config.delivery
    providers = {
        name: (provider.limit(), provider.breaker.settings())
        for name, provider in config.providers.items()
    }
    storage = Storage(config, env)
    providers |= storage.budgets()
    handover = Handover.from_env(env)

    def handed_down(listener: str) -> int | None:
        """The socket a parent process handed down for ``listener``; None: bind it."""
        return handover.socket(listener) if handover else None

    # Processes sharing one sqlite file share its budgets as replicas share Redis's.
    shared_budgets = store.shared or (handover is not None and handover.count > 1)
    wakes = (
        queue_wakes(
            store.redis_url,
            prefix=store.redis_prefix,
            password=store.redis_password(env),
            paths={BROADCAST_NAMESPACE: channel_courier},
        )
        if store.shared
        else None  # one process: whoever stores work wakes its couriers itself
    )
    oauth = OAuth(config, env, domain_events(config))
    sync = Sync(config, env, oauth)
    chaos = Chaos(config.chaos)
    return SupervisorSpec(
        "root",
        children=[
            store_spec(store.backends(env), max_batch=store.max_batch, **supervised),
            # On Redis, every replica draws on one budget per provider.
            resilience_spec(providers, shared_store=STORE_PATH if shared_budgets else None),
            presence_spec(handover),
            # Before delivery: a webhook route's targeted refresh asks its sync.
            sync.spec(supervised),
            # Each route's breaker and limit live in its courier: one failing
            # app endpoint does not hold back the others.
            delivery_spec(
                webhook_deliveries(
                    config.webhooks, env, claim_batch=delivery.claim_batch, sync_route=sync.route
                ),
                STORE_PATH,
                drain_s=delivery.drain_s,
                wakes=wakes,
                **(supervised | {"max_restarts": max(supervision.max_restarts, 5)}),
            ),
            broadcast_spec(config, env, supervised),
            oauth.spec(supervised),
            storage.spec(supervised),
            # Last, so an orderly shutdown stops taking requests first.
            SupervisorSpec(
                "http",
                children=[
                    public_listener(
                        config,
                        [webhooks_mount(config, env), broadcast_mount(config, env), oauth.mount()],
                        handed_down("public"),
                    ),
                    api_spec(
                        config,
                        env,
                        [
                            broadcast_api(config, env),
                            oauth.api(),
                            proxy_part(config, env, oauth),
                            sync.api(),
                            storage.api(),
                        ],
                        handed_down("api"),
                    ),
                    admin_spec(
                        config,
                        env,
                        STORE_PATH,
                        [oauth.admin(), sync.admin(), storage.admin(), chaos.admin()],
                        handed_down("admin"),
                    ),
                ],
                **supervised,
            ),
            # Only with [chaos] enabled: the crash injector, up once all else is, stopped first.
            *chaos.specs(),
        ],
        **supervised,
    )


def public_listener(config: Config, mounts: Sequence[Mount], fd: int | None = None) -> ActorSpec:
    """The internet-facing listener: each capability's app at its own prefix (on the
    socket ``fd`` when a parent process handed one down)."""
    server = config.server
    # Its own graceful timeout plus room for the store to answer.
    return listener_spec(
        "public",
        server.public_bind,
        mounted(mounts),
        graceful_timeout_s=server.graceful_timeout_s,
        settle_s=config.store.timeout_s,
        header_timeout_s=server.header_timeout_s,
        # /ws is served here: each connection's first head is read ahead.
        limits=EdgeLimits(
            server.max_connections, http2_cleartext=server.http2_cleartext, websockets=True
        ),
        setting="server.public_bind",
        fd=fd,
    )
