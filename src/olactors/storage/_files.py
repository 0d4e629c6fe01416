"""A file's record in the store: where it lives, what it is, and its way back home.

``storage:file:<id>`` holds the record; ``storage:key:<sha256 of the key>`` holds the
id of the file at a key, taken with ``put_if_absent`` so two uploads to one key
(on any replica) cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import AbstractAsyncContextManager
from typing import Literal

import msgspec

from ..store import Store

FILE_PREFIX = "storage:file:"
#: Files on the fallback, waiting to go home: what the admin lists.
PENDING_PREFIX = "storage:pending:"
#: A key's claim never lapses while its file exists (it is deleted with it).
FOREVER_S = 100 * 365 * 24 * 3600.0
#: An upload's claim on its key until its record is written: longer than any upload.
UPLOAD_CLAIM_S = 6 * 3600.0

Migration = Literal["none", "pending", "done"]


class FileRecord(msgspec.Struct):
    id: str
    key: str
    provider: str
    size: int
    sha256: str
    content_type: str
    created_at: float
    metadata: dict[str, str] = {}
    #: "pending": it lives on the fallback and a job will bring it to the primary.
    migration: Migration = "none"
    migration_attempts: int = 0
    migration_error: str | None = None
    migrated_at: float | None = None


def new_file_id() -> str:
    return "file_" + secrets.token_hex(12)


def _key_claim(key: str) -> str:
    return "storage:key:" + hashlib.sha256(key.encode()).hexdigest()


class Files:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, file_id: str) -> FileRecord | None:
        raw = await self.store.get(FILE_PREFIX + file_id)
        return None if raw is None else msgspec.msgpack.decode(raw, type=FileRecord)

    async def put(self, record: FileRecord) -> None:
        """Write the record; its key's claim then lasts as long as the file."""
        await self.store.put(FILE_PREFIX + record.id, msgspec.msgpack.encode(record))
        await self.store.put(_key_claim(record.key), record.id.encode(), ttl_s=FOREVER_S)
        if record.migration == "pending":
            await self.store.put(PENDING_PREFIX + record.id, b"1")
        else:
            await self.store.delete(PENDING_PREFIX + record.id)

    def held(self, file_id: str, ttl_s: float, wait_s: float) -> AbstractAsyncContextManager[None]:
        """The file to oneself, across replicas: a migration of it and its deletion never
        run at once (LockBusy after ``wait_s``)."""
        return self.store.lock(f"storage:working:{file_id}", ttl_s=ttl_s, wait_s=wait_s)

    async def claim_key(self, key: str, file_id: str) -> bool:
        """Whether ``key`` was free and is now ``file_id``'s, for an upload's time: a
        process that dies mid-upload leaves a claim that lapses (see :meth:`put`)."""
        claimed: bool = await self.store.put_if_absent(
            _key_claim(key), file_id.encode(), ttl_s=UPLOAD_CLAIM_S
        )
        return claimed

    async def holder(self, key: str) -> str | None:
        raw = await self.store.get(_key_claim(key))
        return None if raw is None else raw.decode()

    async def release_key(self, key: str, file_id: str) -> None:
        await self.store.delete(_key_claim(key), if_value=file_id.encode())

    async def forget(self, record: FileRecord) -> None:
        await self.store.delete(FILE_PREFIX + record.id)
        await self.store.delete(PENDING_PREFIX + record.id)
        await self.release_key(record.key, record.id)
