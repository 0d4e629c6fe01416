"""The provider's token endpoint: codes exchanged, tokens refreshed and revoked (RFC 6749,
7009), Instagram's long-lived tokens. Request bodies are Authlib's; errors are typed.

Nothing here puts a token in an exception's message or a log line.
"""

from __future__ import annotations

import httpx
import msgspec
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from ._providers import OAuthProvider

_FORM = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}


class TokenError(Exception):
    """The provider did not give a token. ``error`` is its RFC 6749 code (``invalid_grant``
    means the user must connect again); ``transient`` ones (no answer, 429, 5xx) may
    succeed later."""

    def __init__(self, error: str, description: str = "", *, transient: bool = False) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.transient = transient


class TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 -- a scheme name
    expires_in: float | None = None
    refresh_token: str | None = None
    scope: str | None = None

    def __repr__(self) -> str:
        return "<TokenAnswer>"


class _ErrorBody(msgspec.Struct, frozen=True):
    error: str = "invalid_response"
    error_description: str = ""


class TokenEndpoint:
    """Calls to one provider's token endpoints. Token calls are rare (a connect, a
    refresh an hour), so each opens its own connection: nothing is held between."""

    def __init__(self, provider: OAuthProvider, *, timeout_s: float = 10.0) -> None:
        self.provider = provider
        self.timeout_s = timeout_s

    def _client(self) -> dict[str, str]:
        # client_secret_post: Google and Instagram both take it.
        return {"client_id": self.provider.client_id, "client_secret": self.provider.client_secret}

    async def exchange(self, code: str, verifier: str | None) -> TokenAnswer:
        extra = {"code_verifier": verifier} if verifier else {}
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.provider.redirect_uri,
            **self._client(),
            **extra,
        )
        return await self._post(self.provider.token_url, body)

    async def refresh(self, refresh_token: str) -> TokenAnswer:
        body = prepare_token_request("refresh_token", refresh_token=refresh_token, **self._client())
        return await self._post(self.provider.token_url, body)

    async def long_lived(self, short_lived: str) -> TokenAnswer:
        """Instagram: the code's hour-long token for a 60-day one."""
        params = {
            "grant_type": "ig_exchange_token",
            "client_secret": self.provider.client_secret,
            "access_token": short_lived,
        }
        return await self._call("GET", f"{self.provider.graph_url}/access_token", params=params)

    async def refresh_long_lived(self, token: str) -> TokenAnswer:
        """Instagram: a long-lived token (at least a day old) for a fresh 60 days."""
        params = {"grant_type": "ig_refresh_token", "access_token": token}
        return await self._call(
            "GET", f"{self.provider.graph_url}/refresh_access_token", params=params
        )

    async def revoke(self, token: str) -> None:
        """RFC 7009, where the provider has a revocation endpoint; a token the provider
        no longer knows is as good as revoked."""
        if self.provider.revoke_url is None:
            return
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                answer = await http.post(
                    self.provider.revoke_url, data={"token": token}, headers=_FORM
                )
        except httpx.HTTPError as exc:
            raise TokenError(
                "temporarily_unavailable", type(exc).__name__, transient=True
            ) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise TokenError(
                "temporarily_unavailable", f"answered {answer.status_code}", transient=True
            )

    async def _post(self, url: str, body: str) -> TokenAnswer:
        return await self._call("POST", url, content=body)

    async def _call(self, method: str, url: str, **request: object) -> TokenAnswer:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                answer = await http.request(method, url, headers=_FORM, **request)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise TokenError(
                "temporarily_unavailable", type(exc).__name__, transient=True
            ) from None
        if answer.status_code == 429 or answer.status_code >= 500:
            raise TokenError(
                "temporarily_unavailable", f"answered {answer.status_code}", transient=True
            )
        if answer.status_code != 200:
            try:
                error = msgspec.json.decode(answer.content, type=_ErrorBody)
            except (msgspec.DecodeError, msgspec.ValidationError):
                # Not RFC 6749's shape (Instagram's error_type/message, an HTML page).
                error = _ErrorBody(error_description=f"answered {answer.status_code}")
            # The description is the provider's, about the request: never a token.
            raise TokenError(error.error, error.error_description[:200])
        try:
            return msgspec.json.decode(answer.content, type=TokenAnswer)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise TokenError("invalid_response", "the token answer is not one") from None
