"""A local OAuth2 server that behaves like Google's (RFC 6749, RFC 7636, RFC 7009) and
Instagram's long-lived tokens, and a daemon in this process configured against it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import trio

from olactors.config import Config
from olactors.runtime import ActorSystem
from olactors.testing import Canned, FakeProvider, Seen
from olactors.tree import build_tree

CLIENT_ID, CLIENT_SECRET = "client-123.apps.example", "client-secret-456"
API_KEY = "app-key-0123456789abcdefghij"
ADMIN_TOKEN = "admin-token-0123456789abcdefghij"
KEYS = (
    "k2:"
    + base64.b64encode(b"\x02" * 32).decode()
    + ",k1:"
    + base64.b64encode(b"\x01" * 32).decode()
)
RETURN = "https://app.example.com/settings/connections"


@dataclass
class AuthorizationServer:
    """Codes, refresh tokens and revocations, as an authorization server keeps them.

    ``expires_in`` is what each new access token lives; ``rotate`` gives a new
    refresh token with each refresh; ``revoked`` refresh tokens get invalid_grant.
    """

    server: FakeProvider = field(default_factory=FakeProvider)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    refreshes: int = 0
    expires_in: int = 3599
    rotate: bool = False
    #: False: a code gives no refresh token (a grant without offline access).
    offline: bool = True
    issued: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.route("/token", self._token)
        self.server.route("/revoke", self._revoke)
        self.server.route("/access_token", self._long_lived)
        self.server.route("/refresh_access_token", self._refresh_long_lived)

    def approve(self, authorization_url: str) -> dict[str, str]:
        """The user said yes: the query the provider sends the browser back with."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        return {"code": code, "state": query["state"]}

    def _access(self) -> str:
        token = "ya29." + secrets.token_urlsafe(24)
        self.issued.append(token)
        return token

    def _token(self, request: Seen) -> Canned:
        form = dict(parse_qsl(request.body.decode()))
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return Canned(401, json={"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            asked = self.codes.pop(form.get("code", ""), None)
            if asked is None or asked["redirect_uri"] != form.get("redirect_uri"):
                return Canned(
                    400, json={"error": "invalid_grant", "error_description": "Bad Request"}
                )
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if challenge.rstrip(b"=").decode() != asked.get("code_challenge"):
                return Canned(400, json={"error": "invalid_grant", "error_description": "PKCE"})
            granted = {
                "access_token": self._access(),
                "expires_in": self.expires_in,
                "token_type": "Bearer",
                "scope": asked.get("scope", ""),
            }
            if self.offline:
                granted["refresh_token"] = refresh = "1//" + secrets.token_urlsafe(24)
                self.refresh_tokens.add(refresh)
            return Canned(200, json=granted)
        if form.get("grant_type") == "refresh_token":
            given = form.get("refresh_token", "")
            if given in self.revoked or given not in self.refresh_tokens:
                return Canned(
                    400,
                    json={
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            self.refreshes += 1
            answer: dict[str, Any] = {
                "access_token": self._access(),
                "expires_in": 3599,
                "token_type": "Bearer",
            }
            if self.rotate:
                self.refresh_tokens.discard(given)
                answer["refresh_token"] = "1//" + secrets.token_urlsafe(24)
                self.refresh_tokens.add(answer["refresh_token"])
            return Canned(200, json=answer)
        return Canned(400, json={"error": "unsupported_grant_type"})

    def _revoke(self, request: Seen) -> Canned:
        self.revoked.add(dict(parse_qsl(request.body.decode())).get("token", ""))
        return Canned(200, json={})

    def _long_lived(self, request: Seen) -> Canned:
        query = dict(parse_qsl(request.query))
        if (
            query.get("grant_type") != "ig_exchange_token"
            or query.get("client_secret") != CLIENT_SECRET
        ):
            return Canned(
                400, json={"error": {"message": "bad exchange", "type": "OAuthException"}}
            )
        return Canned(
            200,
            json={
                "access_token": "IGLL" + secrets.token_urlsafe(16),
                "token_type": "bearer",
                "expires_in": 5184000,
            },
        )

    def _refresh_long_lived(self, request: Seen) -> Canned:
        self.refreshes += 1
        return Canned(
            200,
            json={
                "access_token": "IGLL" + secrets.token_urlsafe(16),
                "token_type": "bearer",
                "expires_in": 5184000,
            },
        )


@asynccontextmanager
async def authorization_server() -> AsyncIterator[AuthorizationServer]:
    auth = AuthorizationServer()
    auth.start()
    async with trio.open_nursery() as nursery:
        await nursery.start(auth.server.serve)
        yield auth
        nursery.cancel_scope.cancel()


@dataclass
class Daemon:
    system: ActorSystem
    public_url: str
    api_url: str

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api_url) as client:
            return await client.request(
                method, path, json=body, headers={"authorization": f"Bearer {API_KEY}"}
            )

    async def admin_text(self, path: str, method: str = "GET") -> str:
        admin = self.system.actor_snapshot("/root/http/admin").state["addresses"][0]
        async with httpx.AsyncClient(base_url=admin) as client:
            answer = await client.request(
                method, path, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
            )
        assert answer.status_code == 200, (path, answer.text)
        return answer.text

    async def admin(self, method: str, path: str) -> Any:
        return json.loads(await self.admin_text(path, method))

    async def authorize(self, provider: str = "google", user: str = "42") -> str:
        """The authorization URL the app gets for ``user``."""
        started = await self.call(
            "POST", f"/v1/connections/{provider}/authorize", {"user": user, "return_url": RETURN}
        )
        assert started.status_code == 201, started.text
        return str(started.json()["authorization_url"])

    async def callback(self, provider: str, query: Mapping[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.public_url) as client:
            return await client.get(f"/oauth/{provider}/callback", params=dict(query))

    async def connect(
        self, auth: AuthorizationServer, provider: str = "google", user: str = "42"
    ) -> str:
        back = await self.callback(provider, auth.approve(await self.authorize(provider, user)))
        assert back.status_code == 303, back.text
        return str(back.headers["location"])


def provider_config(auth: AuthorizationServer, preset: str = "google") -> dict[str, Any]:
    urls = {
        "authorize_url": f"{auth.url}/authorize",
        "token_url": f"{auth.url}/token",
    }
    if preset == "google":
        urls["revoke_url"] = f"{auth.url}/revoke"
    else:
        urls["graph_url"] = auth.url
    return {
        "preset": preset,
        "client_id_env": "CLIENT_ID",
        "client_secret_env": "CLIENT_SECRET",
        **urls,
    }


@asynccontextmanager
async def run_daemon(
    tmp_path: Path,
    auth: AuthorizationServer,
    *,
    store: Mapping[str, Any] | None = None,
    public_port: int = 0,
    keys: str = KEYS,
    scan_s: float = 300.0,
    providers: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AsyncIterator[Daemon]:
    """The daemon, its OAuth providers at ``auth``; ``providers`` replaces its
    ``[providers]`` (where the proxy calls), ``env`` adds to its environment."""
    instagram = provider_config(auth, "instagram")
    config = Config.model_validate(
        {
            "store": store or {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": f"127.0.0.1:{public_port}"},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "broadcast": {"allow_private_endpoints": True, "retry_schedule_s": [0.01]},
            "oauth": {
                "public_url": "https://hooks.example.com",
                "refresh_scan_s": scan_s,
                "providers": {"google": provider_config(auth), "instagram": instagram},
            },
            **({"providers": providers} if providers is not None else {}),
            **(extra or {}),
        }
    )
    environment = {
        "OLACTORS_API_KEYS": API_KEY,
        "OLACTORS_SUBSCRIBER_KEY": "subscriber-key-0123456789abcdef0123456789",
        "OLACTORS_OAUTH_KEYS": keys,
        "OLACTORS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        **(env or {}),
    }
    system = ActorSystem(build_tree(config, environment))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        public = system.actor_snapshot("/root/http/public").state["addresses"][0]
        api = system.actor_snapshot("/root/http/api").state["addresses"][0]
        yield Daemon(system, public, api)
        system.shutdown()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
