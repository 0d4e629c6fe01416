"""Rekeying: every connection sealed again under the vault's newest key.

Each record is resealed under its connection's refresh lock (the one the
refresher takes), so a refresh running on another replica cannot be
overwritten by the record as it was before it.
"""

from __future__ import annotations

import secrets

import msgspec
import trio

from ..store import Store
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
    cursor = ""
    while True:
        page = await store.keys("oauth:conn:", cursor=cursor, limit=200)
        for key in page.keys:
            outcome = await _reseal(store, keys, key, wait_s)
            resealed += outcome == "resealed"
            current += outcome == "current"
            failed += outcome == "failed"
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return RekeyReport(resealed, current, failed, keys.newest)


async def _reseal(store: Store, keys: Keyring, key: str, wait_s: float) -> str:
    lock, owner = refresh_lock(key), secrets.token_hex(8).encode()
    with trio.move_on_after(wait_s) as waited:
        # The holder may be another replica: no event reaches us, so poll.
        while not await store.put_if_absent(lock, owner, ttl_s=REFRESH_LOCK_S):  # noqa: ASYNC110
            await trio.sleep(0.05)
    if waited.cancelled_caught:
        return "failed"
    try:
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
    finally:
        with trio.CancelScope(shield=True):
            await store.delete(lock, if_value=owner)
