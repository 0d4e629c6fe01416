"""GET response caches: in memory (one daemon) or in the store (shared by replicas)."""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from typing import Protocol

import msgspec

from ..store import Store, StoreError


class CachedResponse(msgspec.Struct, frozen=True):
    status: int
    headers: dict[str, str]
    body: bytes


class ResponseCache(Protocol):
    async def get(self, key: str) -> CachedResponse | None: ...

    async def put(self, key: str, value: CachedResponse, ttl_s: float) -> None: ...


class MemoryCache:
    """A bounded LRU with a TTL per entry. Never blocks; for a single daemon."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, CachedResponse]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: CachedResponse, ttl_s: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class StoreCache:
    """Entries in the store's key-value space with their TTL: shared by every replica
    on Redis. A store that is down is a miss, never a failed call."""

    _encoder = msgspec.msgpack.Encoder()
    _decoder = msgspec.msgpack.Decoder(CachedResponse)

    def __init__(self, store: Store, prefix: str = "http-cache") -> None:
        self._store = store
        self._prefix = prefix

    async def get(self, key: str) -> CachedResponse | None:
        try:
            raw = await self._store.get(f"{self._prefix}:{key}")
        except StoreError:
            return None
        return None if raw is None else self._decoder.decode(raw)

    async def put(self, key: str, value: CachedResponse, ttl_s: float) -> None:
        # A cache that cannot write is only slower.
        with contextlib.suppress(StoreError):
            await self._store.put(f"{self._prefix}:{key}", self._encoder.encode(value), ttl_s=ttl_s)
