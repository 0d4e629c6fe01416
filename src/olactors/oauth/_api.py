"""``/v1/connections``: the app starts a user's connection, gets a valid token, ends it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Annotated

import msgspec

from ..api import ApiPart, Conflict, NotFound, Operations, Unavailable
from ..runtime import ActorContext
from ..store import Store
from ..times import iso_utc
from ._connections import Connection, Connections, Status
from ._flow import Authorizations
from ._providers import OAuthProvider
from ._refresh import NeedsReauth, NotConnected, Refresher
from ._tokens import TokenEndpoint, TokenError
from ._vault import Keyring

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,40}$", examples=["google"])]
#: The app's own id of its user; never "authorize" (that is the verb beside it).
USER_PATTERN = r"^(?!authorize$)[A-Za-z0-9_.:@-]{1,128}$"
User = Annotated[str, msgspec.Meta(pattern=USER_PATTERN, examples=["42"])]
Scope = Annotated[str, msgspec.Meta(pattern=r"^[!#-\[\]-~]{1,200}$")]
ReturnUrl = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^https?://[^\s]{1,2000}$", examples=["https://app.example.com/settings"]
    ),
]


class ReauthNeeded(Conflict):
    type = "needs_reauth"


class AuthorizeRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    user: User
    return_url: ReturnUrl
    #: Empty: the provider's configured scopes.
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=50)] = []


class AuthorizeAnswer(msgspec.Struct, frozen=True):
    authorization_url: str
    expires_at: str


class TokenView(msgspec.Struct, frozen=True):
    access_token: str
    expires_at: str | None
    scopes: list[str]
    status: Status


class Disconnected(msgspec.Struct, frozen=True):
    provider: str
    user: str
    deleted: bool
    #: Whether the provider revoked the token too (where it has an endpoint for it).
    revoked: bool


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else iso_utc(timestamp)


async def fresh_or_refused(
    refresher: Refresher, provider: OAuthProvider, user: str, *, rejected: str | None = None
) -> Connection:
    """The user's connection with a valid token, or the app API's error saying why not:
    404 not connected, 409 ``needs_reauth``, 503 when the provider could not refresh it."""
    try:
        return await refresher.fresh(provider, user, rejected=rejected)
    except NotConnected as exc:
        raise NotFound(str(exc)) from None
    except NeedsReauth as exc:
        raise ReauthNeeded(str(exc)) from None
    except TokenError as exc:
        raise Unavailable(f"{provider.name} could not refresh the token now: {exc}") from None


def connections_part(
    providers: Mapping[str, OAuthProvider],
    keys: Keyring | None,
    state_ttl_s: float,
    refresher: Callable[[ActorContext, Store], Refresher],
) -> ApiPart:
    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        services = None
        if keys is not None:  # there are providers
            connections = Connections(store, keys)
            flow = Authorizations(
                store, connections, TokenEndpoint, context.clock, state_ttl_s=state_ttl_s
            )
            services = connections, flow, refresher(context, store)

        def provider_named(name: str) -> OAuthProvider:
            provider = providers.get(name)
            if provider is None:
                raise NotFound(f"no OAuth provider {name} is configured")
            return provider

        def ready() -> tuple[Connections, Authorizations, Refresher]:
            # Asked only once provider_named found a provider, which needs keys.
            assert services is not None
            return services

        names = {"provider": Name}
        users = {"provider": Name, "user": User}

        @operations.add(
            "POST",
            "/v1/connections/<provider>/authorize",
            summary="Start a user's connection: the URL to send them to (PKCE, single-use state)",
            body=AuthorizeRequest,
            response=AuthorizeAnswer,
            status=201,
            tag="connections",
            errors=(404,),
            params=names,
        )
        async def authorize_connection(
            body: AuthorizeRequest, query: None, provider: str
        ) -> AuthorizeAnswer:
            chosen = provider_named(provider)
            _, flow, _ = ready()
            url, until = await flow.start(chosen, body.user, list(body.scopes), body.return_url)
            return AuthorizeAnswer(url, _iso(until) or "")

        @operations.add(
            "GET",
            "/v1/connections/<provider>/<id:user>",
            summary="A valid access token for the user (refreshed first when it is due)",
            response=TokenView,
            tag="connections",
            errors=(404, 409),
            params=users,
        )
        async def get_connection(body: None, query: None, provider: str, user: str) -> TokenView:
            chosen = provider_named(provider)
            _, _, refresher = ready()
            connection = await fresh_or_refused(refresher, chosen, user)
            return TokenView(
                connection.access_token,
                _iso(connection.expires_at),
                connection.scopes,
                connection.status,
            )

        @operations.add(
            "DELETE",
            "/v1/connections/<provider>/<id:user>",
            summary="Revoke the user's token at the provider (where it can) and forget it",
            response=Disconnected,
            tag="connections",
            errors=(404,),
            params=users,
        )
        async def delete_connection(
            body: None, query: None, provider: str, user: str
        ) -> Disconnected:
            chosen = provider_named(provider)
            held, _, _ = ready()
            connection = await held.get(provider, user)
            if connection is None:
                raise NotFound(f"{user} has no {provider} connection")
            revoked = False
            if chosen.revoke_url is not None:
                with contextlib.suppress(TokenError):
                    # The refresh token revokes the whole grant (Google).
                    await TokenEndpoint(chosen).revoke(
                        connection.refresh_token or connection.access_token
                    )
                    revoked = True
            await held.delete(provider, user)
            return Disconnected(provider, user, True, revoked)

    return part
