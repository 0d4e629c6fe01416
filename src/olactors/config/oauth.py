"""``[oauth]``: OAuth2 connections made for the app's users, their tokens kept in a vault."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ._base import Section

Preset = Literal["google", "instagram"]


class OAuthProviderConfig(Section):
    """One OAuth2 provider. ``preset`` (or a provider named ``google`` or ``instagram``)
    fills in the URLs and quirks of a known one; anything set here wins."""

    preset: Preset | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None
    userinfo_url: str | None = None
    #: Instagram's Graph host, where its long-lived tokens are made and refreshed.
    graph_url: str | None = None
    #: How the provider proxy hands a user's token on: unset, as
    #: ``Authorization: Bearer``; set, as this query parameter (Instagram's
    #: Graph API documents ``access_token``).
    token_param: str | None = None
    #: The variables holding the app's client id and secret at the provider.
    client_id_env: str
    client_secret_env: str
    #: Asked for when the app names none.
    scopes: list[str] = Field(default_factory=list)
    #: PKCE S256 (RFC 7636) on every authorization.
    pkce: bool = True
    #: A token is refreshed when it expires within this long (never more than
    #: half its lifetime, so short-lived tokens still work).
    refresh_margin_s: float = Field(default=900.0, ge=0)


class OAuthConfig(Section):
    #: The daemon's public base URL: callbacks are <public_url>/oauth/<name>/callback.
    #: Unset: connections are off.
    public_url: str | None = None
    #: The vault's keys, comma-separated "<key id>:<base64 of 32 bytes>", newest
    #: first: the newest encrypts, any decrypts. From this variable, or a file.
    keys_env: str = "OLACTORS_OAUTH_KEYS"
    keys_file: Path | None = None
    #: How often idle connections are looked at and refreshed ahead of expiry.
    refresh_scan_s: float = Field(default=300.0, gt=0)
    #: An authorization must come back within this long, once.
    state_ttl_s: float = Field(default=600.0, gt=0, le=3600)
    providers: dict[str, OAuthProviderConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _callbacks_need_a_public_url(self) -> OAuthConfig:
        if self.providers and not self.public_url:
            raise ValueError("oauth.public_url is needed for the callbacks of oauth.providers")
        if self.public_url and not self.public_url.startswith(("https://", "http://")):
            raise ValueError("oauth.public_url is an absolute http(s) URL")
        return self
