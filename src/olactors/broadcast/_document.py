"""A small JSON document in the store, changed by read-modify-write under a store lock.

What the broadcast channels keep as lists (webhook endpoints, a user's
devices): every replica reads the same document, and two replicas changing
it at once never lose each other's change. The lock is a ``put_if_absent``
with a short expiry, so a replica that dies holding it frees it by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

from ..store import Store

T = TypeVar("T")
A = TypeVar("A")

LOCK_S = 5.0


class LockedDocument(Generic[T]):
    """``dict[str, T]`` under ``key``; missing means empty."""

    def __init__(self, store: Store, key: str, kind: type[T], *, lock_s: float = LOCK_S) -> None:
        self._store = store
        self.key = key
        self._lock = f"{key}:lock"
        self._lock_s = lock_s
        self._decoder = msgspec.json.Decoder(dict[str, kind])  # type: ignore[valid-type]

    async def read(self) -> dict[str, T]:
        raw = await self._store.get(self.key)
        return dict(self._decoder.decode(raw)) if raw else {}

    async def change(self, edit: Callable[[dict[str, T]], A]) -> A:
        """Apply ``edit`` to the document in place and store it; ``edit``'s answer back.

        An exception from ``edit`` stores nothing. :class:`LockBusy` if the
        lock stays taken for ``lock_s``.
        """
        async with self._store.lock(self._lock, ttl_s=self._lock_s, wait_s=self._lock_s):
            document = await self.read()
            answer = edit(document)
            if document:
                await self._store.put(self.key, msgspec.json.encode(document))
            else:
                await self._store.delete(self.key)
        return answer
