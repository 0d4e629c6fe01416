"""The app API's listener from ``[api]``: a third listener, beside the public and admin ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import trio

from ..config import Config, ConfigError
from ..http import EdgeLimits, bind_host, is_loopback, listener_spec
from ..runtime import ActorContext, ActorSpec
from ..store import STORE_PATH, Store
from ._app import ApiPart, api_app
from ._keys import ApiKeys, configured_keys, generated_key


def api_spec(
    config: Config, env: Mapping[str, str], parts: Sequence[ApiPart], fd: int | None = None
) -> ActorSpec:
    """The app API listener, serving each capability's ``parts``; always behind a key.

    The keys come from the variable ``api.keys_env`` names; on loopback
    without one, from ``<state_dir>/api.key``, generated at the first start.
    A bind beyond loopback needs the variable.
    """
    api, server, store = config.api, config.server, config.store
    configured = configured_keys(api.keys_env, env)
    if configured is None and not is_loopback(bind_host(api.bind)):
        raise ConfigError(
            f"api.bind {api.bind} is not loopback and {api.keys_env} is not set: "
            "refusing to expose the app API without a key"
        )
    state_dir = config.daemon.state_dir

    def app(context: ActorContext, closing: trio.Event) -> Any:
        keys = ApiKeys(configured or [generated_key(state_dir)])
        return api_app(
            context,
            Store.at(context, STORE_PATH, timeout_s=store.timeout_s),
            keys,
            parts,
            idempotency_ttl_s=api.idempotency_ttl_s,
            max_body_bytes=api.max_body_bytes,
            body_timeout_s=server.body_timeout_s,
        )

    return listener_spec(
        "api",
        api.bind,
        app,
        graceful_timeout_s=server.graceful_timeout_s,
        settle_s=store.timeout_s,
        header_timeout_s=server.header_timeout_s,
        limits=EdgeLimits(max_connections=api.max_connections),
        setting="api.bind",
        fd=fd,
    )
