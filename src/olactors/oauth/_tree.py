"""The OAuth capability's share of the app API and of the public listener."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from weakref import WeakValueDictionary

import msgspec
import trio
from quart import Response
from quart_trio import QuartTrio

from ..admin import AdminPart
from ..api import ApiPart
from ..broadcast import Emit
from ..config import Config
from ..http import Mount
from ..runtime import ActorContext, ActorSpec, SupervisorSpec
from ..store import STORE_PATH, Store
from ._api import connections_part
from ._callback import OAuthCallback
from ._connections import Connection, Connections
from ._flow import Authorizations
from ._proactive import ProactiveRefresher
from ._providers import providers
from ._refresh import OnReauth, Refresher
from ._rekey import rekey
from ._tokens import TokenEndpoint
from ._vault import keyring


class OAuth:
    """Providers and vault keys read once, at start: a daemon that could not open its
    vault, or lacks a client secret, fails then rather than at the first user."""

    def __init__(
        self,
        config: Config,
        env: Mapping[str, str],
        events: Callable[[ActorContext, Store], Emit] | None = None,
    ) -> None:
        oauth = config.oauth
        self.reauth = _reauth_event(events) if events is not None else None
        self.providers = providers(oauth, env)
        self.keys = keyring(oauth.keys_env, oauth.keys_file, env) if self.providers else None
        self.state_ttl_s = oauth.state_ttl_s
        self.scan_s = oauth.refresh_scan_s
        self.store_timeout_s = config.store.timeout_s
        # One lock per connection being refreshed in this process, whichever
        # part (the connections API, the proxy) asks for its token.
        self._refreshing: WeakValueDictionary[str, trio.Lock] = WeakValueDictionary()

    def refresher(self, context: ActorContext, store: Store) -> Refresher:
        """A valid token on demand for code running in ``context`` (needs :attr:`keys`)."""
        assert self.keys is not None
        return Refresher(
            store,
            Connections(store, self.keys),
            TokenEndpoint,
            context.clock,
            on_reauth=self.reauth(context, store) if self.reauth is not None else None,
            locks=self._refreshing,
        )

    def spec(self, supervised: Mapping[str, Any]) -> SupervisorSpec:
        """``/root/oauth``: the proactive refresher, when there is something to refresh."""
        children: list[ActorSpec | SupervisorSpec] = []
        if self.keys is not None:
            children.append(
                ActorSpec(
                    "refresher",
                    lambda: ProactiveRefresher(
                        self.providers,
                        self.refresher,
                        scan_s=self.scan_s,
                        store_timeout_s=self.store_timeout_s,
                    ),
                )
            )
        return SupervisorSpec("oauth", children=children, **supervised)

    def api(self) -> ApiPart:
        return connections_part(self.providers, self.keys, self.state_ttl_s, self.refresher)

    def admin(self) -> AdminPart:
        """``POST /connections/rekey`` on the admin: every connection sealed under the newest key
        (what ``olactors connections rekey`` calls)."""
        keys = self.keys

        def part(app: QuartTrio, context: ActorContext, store: Store) -> None:
            @app.post("/connections/rekey")
            async def rekey_connections() -> Response:
                if keys is None:
                    body = {"error": "no OAuth providers are configured: nothing to rekey"}
                    return Response(msgspec.json.encode(body), 409, content_type="application/json")
                report = await rekey(store, keys)
                return Response(msgspec.json.encode(report), content_type="application/json")

        return part

    def mount(self) -> Mount:
        def app(context: ActorContext, closing: trio.Event) -> OAuthCallback:
            flow = None
            if self.keys is not None:
                store = Store.at(context, STORE_PATH, timeout_s=self.store_timeout_s)
                flow = Authorizations(
                    store,
                    Connections(store, self.keys),
                    TokenEndpoint,
                    context.clock,
                    state_ttl_s=self.state_ttl_s,
                )
            return OAuthCallback(self.providers, flow)

        return Mount("/oauth/", app)


def _reauth_event(
    events: Callable[[ActorContext, Store], Emit],
) -> Callable[[ActorContext, Store], OnReauth]:
    """``connection.needs_reauth`` to the app's webhook endpoints taking it, once per
    refusal (its id names the connection and when its token was last refreshed)."""

    def make(context: ActorContext, store: Store) -> OnReauth:
        emit = events(context, store)

        async def tell(connection: Connection) -> None:
            event_id = (
                f"needs_reauth:{connection.provider}:{connection.user}:"
                f"{int(connection.refreshed_at)}"
            )
            payload = {"provider": connection.provider, "user": connection.user}
            await emit("connection.needs_reauth", payload, event_id)

        return tell

    return make
