"""A valid access token on demand: refreshed ahead of expiry, once however many ask.

Single flight twice over: in one process, callers for one connection queue
on one lock and the first refreshes; across replicas, a store lock (a
``put_if_absent`` with a TTL and an owner value, released by
compare-and-delete) lets one replica refresh while the others wait and read
the token again instead of refreshing it too. A refresh token the provider
rotates replaces the old one in the same write as the new access token.

``invalid_grant`` (revoked, expired, a password change) marks the connection
``needs_reauth``; no answer, a 429 or a 5xx is tried again with backoff
within the call, and after that leaves the connection as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from weakref import WeakValueDictionary

import msgspec
import tenacity
import trio

from ..runtime import Clock
from ..store import Store
from ._connections import PREFIX, Connection, Connections, connection_key
from ._providers import OAuthProvider
from ._tokens import TokenAnswer, TokenEndpoint, TokenError

log = logging.getLogger("olactors.oauth")

#: How long one replica may hold a connection's refresh before another may take it.
REFRESH_LOCK_S = 30.0
#: Instagram refreshes a long-lived token only once it is a day old.
LONG_LIVED_MIN_AGE_S = 24 * 3600.0
#: A refresh the provider could not answer (no answer, 429, 5xx) is tried this
#: many times, backing off from REFRESH_BACKOFF_S, before the caller hears of it.
REFRESH_ATTEMPTS = 3
REFRESH_BACKOFF_S = 0.2
#: Every attempt of one refresh ends within this, well inside REFRESH_LOCK_S.
REFRESH_DEADLINE_S = 20.0


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


def refreshable(connection: Connection, provider: OAuthProvider, now: float) -> bool:
    """Whether the provider would refresh this token now: it needs a refresh token, or
    (Instagram's long-lived ones) to be a day old."""
    if provider.long_lived:
        return now - connection.refreshed_at >= LONG_LIVED_MIN_AGE_S
    return connection.refresh_token is not None


class Refresher:
    def __init__(
        self,
        store: Store,
        connections: Connections,
        endpoint: Callable[[OAuthProvider], TokenEndpoint],
        clock: Clock,
        *,
        on_reauth: OnReauth | None = None,
        locks: WeakValueDictionary[str, trio.Lock] | None = None,
    ) -> None:
        self._store = store
        self._connections = connections
        self._endpoint = endpoint
        self._clock = clock
        self._on_reauth = on_reauth
        # Shared by every refresher of the process (the connections API's and
        # the proxy's), so one connection is refreshed once however it is asked.
        self._locks: WeakValueDictionary[str, trio.Lock] = (
            locks if locks is not None else WeakValueDictionary()
        )
        self.refreshes = 0

    async def fresh(
        self,
        provider: OAuthProvider,
        user: str,
        *,
        ahead_s: float = 0.0,
        rejected: str | None = None,
    ) -> Connection:
        """The connection with an access token good for at least the margin (and
        ``ahead_s`` more: the proactive refresher looks that far ahead).

        ``rejected`` is an access token the provider just refused (a 401): it is
        refreshed even if not due, unless someone refreshed it meanwhile (then
        the newer token is the answer, and a hundred refused calls refresh once)
        or it cannot be refreshed now (no refresh token, an Instagram token
        under a day old): then the same token comes back, and nothing is marked,
        since one 401 does not prove the grant is gone.
        """

        def stale(connection: Connection) -> bool:
            now = self._clock()
            refused = (
                rejected is not None
                and connection.access_token == rejected
                and refreshable(connection, provider, now)
            )
            return refused or due(connection, provider, now, ahead_s=ahead_s)

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
        refresh_token = connection.refresh_token

        async def ask() -> TokenAnswer:
            if provider.long_lived:
                return await endpoint.refresh_long_lived(connection.access_token)
            assert refresh_token is not None
            return await endpoint.refresh(refresh_token)

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(REFRESH_ATTEMPTS),
            wait=tenacity.wait_random_exponential(multiplier=REFRESH_BACKOFF_S, max=5.0),
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, TokenError) and exc.transient
            ),
            sleep=trio.sleep,
            reraise=True,
        )

        async def within_deadline() -> TokenAnswer:
            # Done well inside the store lock's TTL, so no other replica takes
            # it while this one may still get (and store) a rotated token.
            with trio.move_on_after(REFRESH_DEADLINE_S):
                answer: TokenAnswer = await retrying(ask)
                return answer
            raise TokenError("timeout", "no token within the refresh's deadline", transient=True)

        try:
            answer = await within_deadline()
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
