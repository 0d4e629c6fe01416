"""A provider's resilient client, built from the config for code running in the tree."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .clients import MemoryCache, ProviderClient, ResponseCache, StoreCache, classifier
from .config import Config, read_secret
from .resilience import RESILIENCE_PATH, ProviderGuard
from .runtime import Refs
from .store import STORE_PATH, Store


def provider_client(
    config: Config,
    name: str,
    refs: Refs,
    env: Mapping[str, str],
    *,
    with_key: bool = True,
    max_budget_wait_s: float | None = None,
) -> ProviderClient:
    """The client of provider ``name``, wired to its limiter and breaker in the tree.

    Its API key, when the provider has one (and ``with_key``: calls that
    carry a user's token have none), comes from the variable that
    ``secret_env`` names and goes out as a Bearer token; a missing variable
    is a :class:`ConfigError` naming it (never the value). Its GET cache is
    in memory, or in Redis through the store when the store is shared (so
    every replica sees one cache). ``max_budget_wait_s``: see ClientSettings.
    """
    provider = config.providers[name]
    cache: ResponseCache = (
        StoreCache(Store.at(refs, STORE_PATH, timeout_s=config.store.timeout_s))
        if config.store.shared
        else MemoryCache()
    )
    headers: dict[str, str] = {}
    if with_key and provider.secret_env is not None:
        secret = read_secret(env, provider.secret_env, f"providers.{name}.secret_env")
        headers["Authorization"] = f"Bearer {secret}"
    settings = dataclasses.replace(
        provider.client_settings(), headers=headers, max_budget_wait_s=max_budget_wait_s
    )
    guard = ProviderGuard.at(refs, RESILIENCE_PATH, name)
    return ProviderClient(name, settings, guard, cache=cache, classify=classifier(name))
