"""A user's connection to a provider: its tokens, sealed in the vault, kept in the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import msgspec

from ..store import Store
from ._vault import Keyring

Status = Literal["connected", "needs_reauth"]


class Connection(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the vault keeps of one connection. Its repr names no token."""

    provider: str
    user: str
    access_token: str
    connected_at: float
    refreshed_at: float
    token_type: str = "Bearer"  # noqa: S105 -- a scheme name
    refresh_token: str | None = None
    #: Unix time; None when the provider gave no lifetime.
    expires_at: float | None = None
    scopes: list[str] = msgspec.field(default_factory=list)
    status: Status = "connected"

    def __repr__(self) -> str:
        return f"<Connection {self.provider}/{self.user} {self.status}>"


#: Where connections are kept: ``<PREFIX><provider>:<user>``.
PREFIX = "oauth:conn:"


def connection_key(provider: str, user: str) -> str:
    return f"{PREFIX}{provider}:{user}"


class Connections:
    """Connections in the store, each sealed under its own key."""

    def __init__(self, store: Store, keys: Keyring) -> None:
        self._store = store
        self._keys = keys

    async def get(self, provider: str, user: str) -> Connection | None:
        key = connection_key(provider, user)
        record = await self._store.get(key)
        if record is None:
            return None
        return msgspec.json.decode(self._keys.open(record, key), type=Connection)

    async def put(self, connection: Connection) -> None:
        key = connection_key(connection.provider, connection.user)
        sealed = self._keys.seal(msgspec.json.encode(connection), key)
        await self._store.put(key, sealed)

    async def delete(self, provider: str, user: str) -> bool:
        return await self._store.delete(connection_key(provider, user))


async def all_keys(store: Store) -> AsyncIterator[str]:
    """Every connection's store key (``<PREFIX><provider>:<user>``)."""
    cursor = ""
    while True:
        page = await store.keys(PREFIX, cursor=cursor, limit=200)
        for key in page.keys:
            yield key
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
