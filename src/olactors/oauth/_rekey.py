"""Rekeying: every connection sealed again under the vault's newest key.

Each record is resealed under its connection's refresh lock (the one the
refresher takes), so a refresh running on another replica cannot be
overwritten by the record as it was before it.
"""

from __future__ import annotations

import msgspec

from ..store import LockBusy, Store
from ._connections import all_keys
from ._refresh import REFRESH_LOCK_S, refresh_lock
from ._vault import Keyring, VaultError


class RekeyReport(msgspec.Struct, frozen=True):
    #: Sealed again under the newest key.
    resealed: int
    #: Already under it.
    current: int
    #: Sealed under no configured key (or damaged), or busy for the whole wait: left as is.
    failed: int
    key: str


async def rekey(store: Store, keys: Keyring, *, wait_s: float = REFRESH_LOCK_S) -> RekeyReport:
    resealed = current = failed = 0
    async for key in all_keys(store):
        outcome = await _reseal(store, keys, key, wait_s)
        resealed += outcome == "resealed"
        current += outcome == "current"
        failed += outcome == "failed"
    return RekeyReport(resealed, current, failed, keys.newest)


async def _reseal(store: Store, keys: Keyring, key: str, wait_s: float) -> str:
    try:
        async with store.lock(refresh_lock(key), ttl_s=REFRESH_LOCK_S, wait_s=wait_s, poll_s=0.05):
            record = await store.get(key)
            if record is None:
                return "current"  # deleted meanwhile: nothing left to reseal
            if keys.key_of(record) == keys.newest:
                return "current"
            try:
                plain = keys.open(record, key)
            except VaultError:
                return "failed"
            await store.put(key, keys.seal(plain, key))
            return "resealed"
    except LockBusy:
        return "failed"
