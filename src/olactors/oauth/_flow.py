"""The connect flow: an authorization URL for the app's user, and the provider's callback.

The state is random, single-use (taken from the store by compare-and-delete,
so a replayed or raced callback finds nothing), expiring, and carries the
user, the provider, the PKCE verifier (RFC 7636, S256) and where to send
the user back. The callback exchanges the code, seals the tokens in the
vault and sends the user back to the app with the outcome in the query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import msgspec
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge as _challenge

from ..runtime import Clock
from ..store import Store
from ._connections import Connection, Connections
from ._providers import OAuthProvider
from ._tokens import TokenEndpoint, TokenError


def s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge of ``verifier``."""
    challenge: str = _challenge(verifier)  # type: ignore[no-untyped-call]
    return challenge


class Pending(msgspec.Struct, frozen=True):
    provider: str
    user: str
    return_url: str
    scopes: list[str]
    verifier: str | None = None

    def __repr__(self) -> str:
        return f"<Pending {self.provider}/{self.user}>"


def _state_key(state: str) -> str:
    return f"oauth:state:{state}"


def back_to(url: str, outcome: dict[str, str]) -> str:
    """``url`` with the outcome added to its query."""
    return url + ("&" if "?" in url else "?") + urlencode(outcome)


@dataclass(frozen=True)
class CallbackOutcome:
    """Where the user goes now: back to the app (``redirect``), or a page of ours when
    there is nowhere to send them (``status`` and ``message``)."""

    redirect: str | None = None
    status: int = 303
    message: str = ""


class Authorizations:
    def __init__(
        self,
        store: Store,
        connections: Connections,
        endpoint: Callable[[OAuthProvider], TokenEndpoint],
        clock: Clock,
        *,
        state_ttl_s: float,
    ) -> None:
        self._store = store
        self._connections = connections
        self._endpoint = endpoint
        self._clock = clock
        self.state_ttl_s = state_ttl_s

    async def start(
        self, provider: OAuthProvider, user: str, scopes: list[str], return_url: str
    ) -> tuple[str, float]:
        """The authorization URL to send the user to, and until when it works."""
        state = generate_token(32)
        verifier = generate_token(64) if provider.pkce else None
        wanted = scopes or list(provider.scopes)
        pending = Pending(provider.name, user, return_url, wanted, verifier)
        await self._store.put(
            _state_key(state), msgspec.json.encode(pending), ttl_s=self.state_ttl_s
        )
        extra: dict[str, str] = {}
        if verifier is not None:
            extra = {
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
            }
        if provider.offline_access:
            extra["access_type"] = "offline"
            held = await self._connections.get(provider.name, user)
            if held is None or held.refresh_token is None:
                # Google sends a refresh token only with a consent screen.
                extra["prompt"] = "consent"
        url = prepare_grant_uri(
            provider.authorize_url,
            provider.client_id,
            "code",
            redirect_uri=provider.redirect_uri,
            scope=" ".join(wanted) or None,
            state=state,
            **extra,
        )
        return url, self._clock() + self.state_ttl_s

    async def _take(self, state: str) -> Pending | None:
        """The pending authorization, once: a second taker finds nothing."""
        key = _state_key(state)
        raw = await self._store.get(key)
        if raw is None or not await self._store.delete(key, if_value=raw):
            return None
        return msgspec.json.decode(raw, type=Pending)

    async def finish(self, provider: OAuthProvider, query: dict[str, str]) -> CallbackOutcome:
        state = query.get("state", "")
        pending = await self._take(state) if 0 < len(state) <= 200 else None
        if pending is None:
            return CallbackOutcome(
                status=400,
                message="This sign-in link has expired or was already used. "
                "Go back to the app and connect again.",
            )
        if pending.provider != provider.name:
            return CallbackOutcome(status=400, message="This sign-in was for another provider.")
        outcome = {"provider": provider.name, "user": pending.user}
        if "error" in query or not query.get("code"):
            error = query.get("error", "invalid_request")[:100]
            return CallbackOutcome(
                redirect=back_to(pending.return_url, {**outcome, "error": error})
            )
        try:
            await self._connect(provider, pending, query["code"])
        except TokenError as exc:
            error = "provider_unavailable" if exc.transient else exc.error[:100]
            return CallbackOutcome(
                redirect=back_to(pending.return_url, {**outcome, "error": error})
            )
        return CallbackOutcome(
            redirect=back_to(pending.return_url, {**outcome, "connection": "connected"})
        )

    async def _connect(self, provider: OAuthProvider, pending: Pending, code: str) -> None:
        endpoint = self._endpoint(provider)
        answer = await endpoint.exchange(code, pending.verifier)
        if provider.long_lived:
            answer = await endpoint.long_lived(answer.access_token)
        now = self._clock()
        held = await self._connections.get(provider.name, pending.user)
        refresh = answer.refresh_token or (held.refresh_token if held is not None else None)
        await self._connections.put(
            Connection(
                provider=provider.name,
                user=pending.user,
                access_token=answer.access_token,
                connected_at=now,
                refreshed_at=now,
                token_type=answer.token_type or "Bearer",
                refresh_token=refresh,
                expires_at=now + answer.expires_in if answer.expires_in else None,
                scopes=answer.scope.split() if answer.scope else pending.scopes,
            )
        )
