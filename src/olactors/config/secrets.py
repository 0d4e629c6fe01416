"""Every secret the configuration names: listed once, read one way.

The configuration never holds a secret, only the name of the environment
variable that does (``secrets_env``, ``secret_env``, ``token_env``...).
:func:`named_secrets` lists them all, with where each is named and whether
the daemon can start without it; :func:`read_secret` reads one, raising a
:class:`ConfigError` that names the variable and where it was named, never
a value. ``check-config`` and the tree use the same two, so what the one
reports missing is what the other refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..http import bind_host, is_loopback
from ._base import read_secret
from ._root import Config

__all__ = ["NamedSecret", "describe_missing", "missing_secrets", "named_secrets", "read_secret"]


@dataclass(frozen=True, slots=True)
class NamedSecret:
    """One variable the configuration names: for what, where, and whether it is needed."""

    variable: str
    what: str  #: "webhook source stripe", "redis password"...
    where: str  #: the key that names it: "webhooks.sources.stripe.secrets_env"
    required: bool  #: False when the daemon starts without it (and does without)


def named_secrets(config: Config) -> list[NamedSecret]:
    """Every secret ``config`` names, in the order a reader meets them in the file."""
    # On loopback a daemon without a token generates one; beyond, it refuses to start.
    exposed = not is_loopback(bind_host(config.admin.bind))
    named = [NamedSecret(config.admin.token_env, "admin token", "admin.token_env", exposed)]
    api_exposed = not is_loopback(bind_host(config.api.bind))
    named.append(NamedSecret(config.api.keys_env, "app API keys", "api.keys_env", api_exposed))
    named.append(
        NamedSecret(
            config.broadcast.token_key_env,
            "subscriber token key",
            "broadcast.token_key_env",
            config.store.shared,  # replicas must verify each other's tokens
        )
    )
    broadcast = config.broadcast
    if broadcast.expo and broadcast.expo_access_token_env:
        where = "broadcast.expo_access_token_env"
        named.append(NamedSecret(broadcast.expo_access_token_env, "Expo access token", where, True))
    oauth = config.oauth
    if oauth.providers and oauth.keys_file is None:
        named.append(NamedSecret(oauth.keys_env, "OAuth vault keys", "oauth.keys_env", True))
    for name, entry in oauth.providers.items():
        where = f"oauth.providers.{name}"
        named.append(NamedSecret(entry.client_id_env, f"{name} client id", where, True))
        named.append(NamedSecret(entry.client_secret_env, f"{name} client secret", where, True))
    for name, provider in config.providers.items():
        if provider.secret_env:
            where = f"providers.{name}.secret_env"
            named.append(NamedSecret(provider.secret_env, f"provider {name}", where, False))
    store = config.store
    if store.backend == "redis" and store.redis_password_env:
        where = "store.redis_password_env"
        named.append(NamedSecret(store.redis_password_env, "redis password", where, True))
    for name, source in config.webhooks.sources.items():
        where = f"webhooks.sources.{name}.secrets_env"
        named += [
            NamedSecret(variable, f"webhook source {name}", where, True)
            for variable in source.secrets_env
        ]
    for route in config.webhooks.routes:
        if route.signing_secret_env:
            label = route.name or route.source
            where = f"route {label}: signing_secret_env"
            named.append(NamedSecret(route.signing_secret_env, f"route {label}", where, True))
    return named


def missing_secrets(config: Config, env: Mapping[str, str]) -> list[NamedSecret]:
    """The secrets the daemon cannot start without that ``env`` does not set, all at once."""
    return [s for s in named_secrets(config) if s.required and not env.get(s.variable)]


def describe_missing(missing: list[NamedSecret]) -> str:
    """One message naming every missing variable, what it is for and where it is named."""
    lines = [f"  {s.variable}: {s.what} (named by {s.where})" for s in missing]
    return f"{len(missing)} variable(s) not set:\n" + "\n".join(lines)
