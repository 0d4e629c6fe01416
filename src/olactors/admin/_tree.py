"""The admin listener as a child spec: its token, hosts and sessions from the configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import trio

from ..config import Config, ConfigError
from ..http import EdgeLimits, bind_host, is_loopback, listener_spec
from ..runtime import ActorContext, ActorSpec
from ..store import Store
from ..webhooks import webhook_routers
from ._app import LOOPBACK_NAMES, AdminPart, admin_app
from ._guard import Sessions
from ._token import configured_token, generated_token

#: A wildcard bind names no host a client could send.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 -- names to leave out, not a bind


def admin_spec(
    config: Config,
    env: Mapping[str, str],
    store_path: str,
    parts: Sequence[AdminPart] = (),
    fd: int | None = None,
) -> ActorSpec:
    """The admin listener, always behind a token.

    The token comes from the variable ``admin.token_env`` names; on loopback
    without one, from ``<state_dir>/admin.token``, generated at the first
    start. A bind beyond loopback needs the variable: exposing the admin is
    a decision to spell out.
    """
    admin, store, server = config.admin, config.store, config.server
    configured = configured_token(admin.token_env, env)
    host = bind_host(admin.bind)
    loopback = is_loopback(host)
    if configured is None and not loopback:
        raise ConfigError(
            f"admin.bind {admin.bind} is not loopback and {admin.token_env} is not set: "
            "refusing to expose the admin listener without a token"
        )
    routers = webhook_routers(config.webhooks)
    hosts = LOOPBACK_NAMES | {host.lower()} | {name.lower() for name in admin.allowed_hosts}
    sessions = Sessions(admin.session_ttl_s)
    state_dir = config.daemon.state_dir

    def app(context: ActorContext, closing: trio.Event) -> Any:
        store_handle = Store.at(context, store_path, timeout_s=store.timeout_s)
        return admin_app(
            context,
            store_handle,
            token=configured or generated_token(state_dir),
            open_probes=admin.open_probes,
            routers=routers,
            sessions=sessions,
            hosts=frozenset(hosts - WILDCARD_HOSTS),
            # Beyond loopback the admin sits behind TLS: the cookie never goes out in clear.
            secure_cookie=not loopback,
            closing=closing,
            body_timeout_s=server.body_timeout_s,
            parts=parts,
        )

    # The dashboard's stream is open as long as a page is: it ends at the
    # graceful timeout, and the actor's own shutdown timeout covers that.
    return listener_spec(
        "admin",
        admin.bind,
        app,
        graceful_timeout_s=config.server.graceful_timeout_s,
        settle_s=store.timeout_s,
        header_timeout_s=config.server.header_timeout_s,
        limits=EdgeLimits(max_connections=admin.max_connections),
        setting="admin.bind",
        fd=fd,
    )
