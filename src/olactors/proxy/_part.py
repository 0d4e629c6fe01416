"""``/v1/proxy/{provider}/{path}``: the app calls a provider through the daemon.

The daemon adds the credentials (the user's fresh OAuth token, or the
provider's API key) and sends the call through the provider's resilient
client: its rate limiter and circuit breaker actors (the budget every other
caller of that provider shares), safe retries, the GET cache. A provider
that refuses a user's token (a 401) gets one refresh and one retry.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

import msgspec
from quart import Request, Response

from .. import resilience
from ..api import ApiPart, ErrorDetail, InvalidRequest, NotFound, Operations
from ..clients import (
    AuthFailure,
    NetworkError,
    ProviderClient,
    ProviderError,
    RateLimitError,
)
from ..clients import ProviderTimeout as ClientTimeout
from ..clients import Response as ProviderAnswer
from ..config import Config
from ..oauth import USER_PATTERN, OAuth, OAuthProvider, Refresher, fresh_or_refused
from ..provider_clients import provider_client
from ..runtime import ActorContext
from ..store import Store
from ._errors import (
    CircuitOpen,
    ProviderAuthFailure,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
)
from ._headers import outgoing, returned
from ._path import provider_path

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,40}$", examples=["stripe"])]
User = Annotated[str, msgspec.Meta(pattern=USER_PATTERN, examples=["42"])]
USER_HEADER = "Olactors-User"
#: How much of a provider's refusal of our credentials the app is shown.
EXCERPT = 300
#: A call waits this long at most for its provider's budget; past it, the app
#: gets a 429 saying when to come back instead of a request left hanging.
BUDGET_WAIT_S = 5.0
#: A provider's 429 without a Retry-After: come back after this.
DEFAULT_RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class _Target:
    """One proxied provider and how its calls are signed."""

    client: ProviderClient
    #: Set: calls carry the user's token from this OAuth provider (no API key).
    oauth: OAuthProvider | None
    #: The provider reads idempotency keys, so a POST or PATCH is retried safely.
    keyed: bool


def proxy_part(config: Config, env: Mapping[str, str], oauth: OAuth) -> ApiPart:
    """The proxy, for every ``[providers.<name>]`` with credentials the daemon holds: an
    OAuth provider of the same name (the user's token), or its ``secret_env`` set."""
    proxied: dict[str, OAuthProvider | None] = {}
    missing: dict[str, str] = {}
    for name, settings in config.providers.items():
        signed = oauth.providers.get(name)
        if signed is None and not (settings.secret_env and env.get(settings.secret_env)):
            missing[name] = (
                f"{name} is not proxied: {settings.secret_env} is not set"
                if settings.secret_env
                else f"{name} is not proxied: it has no API key and no [oauth.providers.{name}]"
            )
            continue
        proxied[name] = signed

    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        # Clients of this incarnation of the listener, closed when it ends.
        targets: dict[str, _Target] = {}
        for name, signed in proxied.items():
            client = provider_client(
                config,
                name,
                context,
                env,
                with_key=signed is None,
                max_budget_wait_s=BUDGET_WAIT_S,
            )
            context.close_at_end(client.aclose)
            keyed = config.providers[name].idempotency_header is not None
            targets[name] = _Target(client, signed, keyed)
        refresher = oauth.refresher(context, store) if oauth.keys is not None else None

        async def proxy(request: Request, body: bytes, provider: str, path: str) -> Response:
            target = targets.get(provider)
            if target is None:
                raise NotFound(missing.get(provider, f"no provider {provider} is configured"))
            call = _Call(request, body, target, provider_path(_raw(request), provider, path))
            try:
                if target.oauth is None:
                    answer = await call.send(None)
                else:
                    assert refresher is not None  # an OAuth provider means a vault
                    answer = await call.as_user(refresher, target.oauth, _user(request))
            except ProviderError as exc:
                return _refused(provider, exc)
            except resilience.RateLimited as exc:
                raise RateLimited(
                    f"{provider}'s budget is spent for now", exc.retry_after_s
                ) from None
            except resilience.CircuitOpen as exc:
                raise CircuitOpen(
                    f"{provider} is failing: its circuit breaker is open", exc.retry_after_s
                ) from None
            return _answer(provider, answer, request.method)

        for method in METHODS:
            operations.add(
                method,
                "/v1/proxy/<provider>/<path:path>",
                summary="Call the provider with the daemon's credentials (the user's token, or "
                "its API key) through its rate limiter, breaker, retries and cache",
                response=None,
                raw=True,
                name=f"proxy_{method.lower()}",
                tag="proxy",
                errors=(404, 409, 429, 502, 504),
                params={"provider": Name},
                headers={USER_HEADER: User},
                varies=_varies,
            )(proxy)

    return part


def _varies(request: Request) -> bytes:
    """Beside method, path, query and body, what makes a proxied call another one."""
    sent = sorted(outgoing(request.headers.items()).items())
    user = request.headers.get(USER_HEADER, "")
    return msgspec.json.encode([user, sent])


class _Call:
    """One proxied request, sent once, or twice when a refused token is refreshed."""

    def __init__(self, request: Request, body: bytes, target: _Target, path: str) -> None:
        self.method = request.method
        query = request.query_string.decode("latin-1")
        self.url = f"{path}?{query}" if query else path
        self.headers = outgoing(request.headers.items())
        self.body = body or None
        self.target = target
        control = request.headers.get("cache-control", "").lower()
        self.skip_cache = "no-cache" in control or "no-store" in control
        # One key for every attempt (the client's retries, the retry after a
        # refresh): the provider does the call once whatever reaches it.
        self.key = None
        if target.keyed and self.method in ("POST", "PATCH"):
            self.key = request.headers.get("idempotency-key") or secrets.token_hex(16)

    async def as_user(
        self, refresher: Refresher, provider: OAuthProvider, user: str
    ) -> ProviderAnswer:
        connection = await fresh_or_refused(refresher, provider, user)
        try:
            return await self.send(connection.access_token)
        except AuthFailure as exc:
            if exc.status == 403:
                raise  # a scope or a permission: a new token would not change it
            again = await fresh_or_refused(
                refresher, provider, user, rejected=connection.access_token
            )
            if again.access_token == connection.access_token:
                raise  # it could not be refreshed now: the refusal stands
            return await self.send(again.access_token)

    async def send(self, token: str | None) -> ProviderAnswer:
        headers, url = dict(self.headers), self.url
        oauth = self.target.oauth
        if token is not None and oauth is not None and oauth.token_param:
            # Added to the app's query as it is (httpx's params would replace it).
            joiner = "&" if "?" in url else "?"
            url += joiner + urlencode({oauth.token_param: token})
        elif token is not None:
            headers["authorization"] = f"Bearer {token}"
        return await self.target.client.request(
            self.method,
            url,
            endpoint="proxy",
            content=self.body,
            headers=headers,
            idempotency_key=self.key,
            skip_cache=self.skip_cache,
        )


def _raw(request: Request) -> bytes | None:
    raw = request.scope.get("raw_path")
    return raw if isinstance(raw, bytes) else None


def _user(request: Request) -> str:
    user = request.headers.get(USER_HEADER)
    if user is None:
        raise InvalidRequest(f"send {USER_HEADER}: the app's id of the user whose connection calls")
    if not re.match(USER_PATTERN, user):
        raise InvalidRequest(f"{USER_HEADER} is not a user id (1 to 128 of A-Z a-z 0-9 _ . : @ -)")
    return user


def _answer(provider: str, answer: ProviderAnswer, method: str) -> Response:
    headers = returned(answer.headers)
    kind = headers.pop("content-type", None) or "application/octet-stream"
    reply = Response(answer.body, status=answer.status, headers=headers, content_type=kind)
    reply.headers["Olactors-Provider"] = provider
    if method == "GET":
        reply.headers["Olactors-Cache"] = "hit" if answer.cached else "miss"
    return reply


def _refused(provider: str, error: ProviderError) -> Response:
    """The provider's own refusal handed back as it is; a refusal of the call itself
    (rate limit, our credentials, no answer) in the app API's error shape."""
    if isinstance(error, RateLimitError):
        told = error.retry_after_s
        raise RateLimited(
            f"{provider} is rate limiting these calls",
            told if told is not None else DEFAULT_RETRY_AFTER_S,
        )
    if isinstance(error, AuthFailure) and error.status != 403:
        said = error.body[:EXCERPT].decode("utf-8", "replace")
        raise ProviderAuthFailure(
            f"{provider} refused the daemon's credentials (HTTP {error.status})",
            [ErrorDetail(said, "provider")] if said else None,
        )
    if isinstance(error, ClientTimeout):
        raise ProviderTimeout(f"{provider} did not answer in time")
    if isinstance(error, NetworkError) or error.status is None:
        raise ProviderUnreachable(f"{provider} could not be reached")
    return _answer(
        provider, ProviderAnswer(error.status, error.headers, error.body), method="error"
    )
