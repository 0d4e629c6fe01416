"""The OAuth2 providers of the configuration, presets filled in and credentials read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import ConfigError, read_secret
from ..config.oauth import OAuthConfig, OAuthProviderConfig

#: What a preset fills in (anything the configuration sets wins).
PRESETS: dict[str, dict[str, object]] = {
    "google": {
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revoke_url": "https://oauth2.googleapis.com/revoke",
        "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
        "scopes": ["openid", "email"],
    },
    "instagram": {
        "authorize_url": "https://www.instagram.com/oauth/authorize",
        "token_url": "https://api.instagram.com/oauth/access_token",
        "graph_url": "https://graph.instagram.com",
        "token_param": "access_token",
        "scopes": ["instagram_business_basic"],
    },
}

#: Instagram's long-lived token: exchanged for the short one, refreshed by itself.
INSTAGRAM_GRAPH = "https://graph.instagram.com"


@dataclass(frozen=True, repr=False)
class OAuthProvider:
    """One provider, ready to use. Its repr names no secret."""

    name: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...] = ()
    revoke_url: str | None = None
    userinfo_url: str | None = None
    pkce: bool = True
    refresh_margin_s: float = 900.0
    #: Google: ``access_type=offline`` (and ``prompt=consent`` when no refresh
    #: token is held yet), so a refresh token comes back.
    offline_access: bool = False
    #: Instagram: the code's short-lived token is exchanged for a 60-day one,
    #: which refreshes itself (no refresh token).
    long_lived: bool = False
    graph_url: str = INSTAGRAM_GRAPH
    #: The query parameter a proxied call carries the token in (else a Bearer header).
    token_param: str | None = None

    def __repr__(self) -> str:
        return f"<OAuthProvider {self.name}>"


def providers(config: OAuthConfig, env: Mapping[str, str]) -> dict[str, OAuthProvider]:
    """Every configured provider; a :class:`ConfigError` naming what is missing."""
    found = {}
    for name, entry in config.providers.items():
        found[name] = _provider(name, entry, config, env)
    return found


def _provider(
    name: str, entry: OAuthProviderConfig, config: OAuthConfig, env: Mapping[str, str]
) -> OAuthProvider:
    preset = entry.preset or (name if name in PRESETS else None)
    base = dict(PRESETS.get(preset, {})) if preset else {}
    chosen = {k: v for k, v in entry.model_dump().items() if k in entry.model_fields_set}
    merged = {**base, **chosen}
    where = f"oauth.providers.{name}"
    for required in ("authorize_url", "token_url"):
        if not merged.get(required):
            raise ConfigError(f"{where}: {required} is needed (or a preset)")
    assert config.public_url is not None  # the section checks it when providers exist
    return OAuthProvider(
        name=name,
        authorize_url=str(merged["authorize_url"]),
        token_url=str(merged["token_url"]),
        client_id=read_secret(env, entry.client_id_env, f"{where}.client_id_env"),
        client_secret=read_secret(env, entry.client_secret_env, f"{where}.client_secret_env"),
        redirect_uri=f"{config.public_url.rstrip('/')}/oauth/{name}/callback",
        scopes=tuple(str(scope) for scope in _list(merged.get("scopes"))),
        revoke_url=_text(merged.get("revoke_url")),
        userinfo_url=_text(merged.get("userinfo_url")),
        pkce=entry.pkce,
        refresh_margin_s=entry.refresh_margin_s,
        offline_access=preset == "google",
        long_lived=preset == "instagram",
        graph_url=_text(merged.get("graph_url")) or INSTAGRAM_GRAPH,
        token_param=_text(merged.get("token_param")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []
