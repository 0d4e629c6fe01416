"""A valid access token on demand: refreshed ahead of expiry, once however many ask.

Single flight twice over: in one process, callers for one connection queue
on one lock and the first refreshes; across replicas, a store lock (a
``put_if_absent`` with a TTL and an owner value, released by
compare-and-delete) lets one replica refresh while the others wait and read
the token again instead of refreshing it too. A refresh token the provider
rotates replaces the old one in the same write as the new access token.

``invalid_grant`` (revoked, expired, a password change) marks the connection
``needs_reauth``; no answer or a 5xx leaves it as it was, to be tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from weakref import WeakValueDictionary

import msgspec
import trio

from ..runtime import Clock
from ..store import Store
from ._connections import PREFIX, Connection, Connections, connection_key
from ._providers import OAuthProvider
from ._tokens import TokenEndpoint, TokenError

log = logging.getLogger("olactors.oauth")

#: How long one replica may hold a connection's refresh before another may take it.
REFRESH_LOCK_S = 30.0
#: Instagram refreshes a long-lived token only once it is a day old.
LONG_LIVED_MIN_AGE_S = 24 * 3600.0


def refresh_lock(connection: str) -> str:
    """The store key of a connection's refresh lock: beside the records, not among them
    (a listing of ``oauth:conn:`` finds connections only)."""
    return "oauth:refreshing:" + connection.removeprefix(PREFIX)


#: Told of a connection just marked ``needs_reauth``.
OnReauth = Callable[[Connection], Awaitable[None]]


class NotConnected(Exception):
    pass


class NeedsReauth(Exception):
    """The user must connect again: the provider refused the refresh token."""


def due(
    connection: Connection, provider: OAuthProvider, now: float, *, ahead_s: float = 0.0
) -> bool:
    """True when the access token should be refreshed before it is handed out; with
    ``ahead_s``, before it would be due that much later (a proactive refresh)."""
    if connection.expires_at is None:
        return False
    lifetime = max(0.0, connection.expires_at - connection.refreshed_at)
    margin = min(provider.refresh_margin_s, lifetime / 2) + ahead_s
    if provider.long_lived:
        if ahead_s:
            # Idle 60-day tokens are kept alive from half their life on.
            margin = max(margin, lifetime / 2)
        # Instagram refuses a token less than a day old; one that young and
        # this close to expiry cannot be refreshed, only used.
        old_enough = now - connection.refreshed_at >= LONG_LIVED_MIN_AGE_S
        return connection.expires_at - now <= margin and old_enough
    return connection.expires_at - now <= margin and connection.refresh_token is not None


class Refresher:
    def __init__(
        self,
        store: Store,
        connections: Connections,
        endpoint: Callable[[OAuthProvider], TokenEndpoint],
        clock: Clock,
        *,
        on_reauth: OnReauth | None = None,
    ) -> None:
        self._store = store
        self._connections = connections
        self._endpoint = endpoint
        self._clock = clock
        self._on_reauth = on_reauth
        self._locks: WeakValueDictionary[str, trio.Lock] = WeakValueDictionary()
        self.refreshes = 0

    async def fresh(
        self, provider: OAuthProvider, user: str, *, ahead_s: float = 0.0
    ) -> Connection:
        """The connection with an access token good for at least the margin (and
        ``ahead_s`` more: the proactive refresher looks that far ahead)."""

        def stale(connection: Connection) -> bool:
            return due(connection, provider, self._clock(), ahead_s=ahead_s)

        connection = await self._read(provider, user)
        if not stale(connection):
            return connection
        key = connection_key(provider.name, user)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = trio.Lock()
        async with lock:
            connection = await self._read(provider, user)
            if not stale(connection):
                return connection  # refreshed while this one waited
            return await self._refresh_shared(provider, user, key, stale)

    async def _read(self, provider: OAuthProvider, user: str) -> Connection:
        connection = await self._connections.get(provider.name, user)
        if connection is None:
            raise NotConnected(f"{user} has no {provider.name} connection")
        if connection.status == "needs_reauth":
            raise NeedsReauth(f"{user} must connect {provider.name} again")
        return connection

    async def _refresh_shared(
        self,
        provider: OAuthProvider,
        user: str,
        key: str,
        stale: Callable[[Connection], bool],
    ) -> Connection:
        # LockBusy if another replica's refresh neither ends nor lets go in time.
        lock = refresh_lock(key)
        async with self._store.lock(lock, ttl_s=REFRESH_LOCK_S, wait_s=REFRESH_LOCK_S, poll_s=0.05):
            # Whoever waited reads the token another replica refreshed meanwhile.
            connection = await self._read(provider, user)
            if not stale(connection):
                return connection
            return await self._refresh(provider, connection)

    async def _tell(self, connection: Connection) -> None:
        """The app hears of it (``connection.needs_reauth``); a failure to say so is
        logged, the connection is marked all the same."""
        if self._on_reauth is None:
            return
        try:
            await self._on_reauth(connection)
        except Exception as exc:
            log.warning(
                "oauth: %s/%s needs reauthorization; the event was not stored: %s",
                connection.provider,
                connection.user,
                type(exc).__name__,
            )

    async def _refresh(self, provider: OAuthProvider, connection: Connection) -> Connection:
        endpoint = self._endpoint(provider)
        try:
            if provider.long_lived:
                answer = await endpoint.refresh_long_lived(connection.access_token)
            else:
                assert connection.refresh_token is not None  # due() checked
                answer = await endpoint.refresh(connection.refresh_token)
        except TokenError as exc:
            if not exc.transient:
                await self._connections.put(
                    msgspec.structs.replace(connection, status="needs_reauth")
                )
                await self._tell(connection)
                raise NeedsReauth(f"{provider.name} refused the refresh: {exc.error}") from None
            raise
        self.refreshes += 1
        now = self._clock()
        fresh = msgspec.structs.replace(
            connection,
            access_token=answer.access_token,
            # A rotated refresh token replaces the old one in this same write.
            refresh_token=answer.refresh_token or connection.refresh_token,
            expires_at=now + answer.expires_in if answer.expires_in else None,
            refreshed_at=now,
            scopes=answer.scope.split() if answer.scope else connection.scopes,
        )
        await self._connections.put(fresh)
        return fresh
