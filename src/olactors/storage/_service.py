"""A listener's way into file storage: its own clients of the stores (the limiters and
breakers are shared, they are actors), the files' records, and the migration queue."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path

import msgspec

from ..delivery import queue_name, wake_courier
from ..runtime import ActorContext, Clock
from ..store import NewItem, Store
from ._files import FileRecord, Files
from ._migrate import MigrationJob
from ._objects import ObjectMissing, ObjectStore, StorageError, StorageRefused
from ._uploads import Uploader

log = logging.getLogger("olactors.storage")

#: A delete waits this long for a migration of its file to end, and holds it this long.
DELETE_WAIT_S = 5.0
DELETE_HOLD_S = 120.0
NAMESPACE = "storage"
MIGRATIONS = "migrations"
MIGRATIONS_QUEUE = queue_name(NAMESPACE, MIGRATIONS)


class NoSuchFile(LookupError):
    pass


async def enqueue_migration(store: Store, context: ActorContext, record: FileRecord) -> None:
    """A job bringing ``record`` to the primary, on the store's queue (one per attempt
    asked: a retry from the admin is a new item)."""
    item = NewItem(
        payload=msgspec.json.encode(MigrationJob(record.id)),
        id=f"migrate.{record.id}.{record.migration_attempts}",
        source=NAMESPACE,
        meta={"type": "storage.migration", "key": record.key[:200]},
    )
    await store.enqueue(MIGRATIONS_QUEUE, item)
    wake_courier(context, MIGRATIONS_QUEUE)


class FileService:
    def __init__(
        self,
        context: ActorContext,
        store: Store,
        stores: Mapping[str, ObjectStore],
        *,
        spool_dir: Path,
        max_bytes: int,
        primary: str,
        fallback: str | None,
        presign_s: int,
        transforms: frozenset[str],
    ) -> None:
        self.context = context
        self.clock: Clock = context.clock
        self.files = Files(store)
        self.stores = stores
        self.primary = primary
        self.fallback = fallback
        self.presign_s = presign_s
        self._transforms = transforms
        self.uploader = Uploader(
            self.files,
            stores,
            primary,
            fallback,
            spool_dir=spool_dir,
            max_bytes=max_bytes,
            clock=context.clock,
            migrate=lambda record: enqueue_migration(store, context, record),
        )
        self.max_bytes = max_bytes

    async def get(self, file_id: str) -> FileRecord:
        record = await self.files.get(file_id)
        if record is None:
            raise NoSuchFile(file_id)
        return record

    def store_of(self, record: FileRecord) -> ObjectStore:
        store = self.stores.get(record.provider)
        if store is None:
            raise StorageRefused(record.provider, "this store is no longer configured")
        return store

    def public_url(self, record: FileRecord) -> str | None:
        return self.store_of(record).public_url(record.key)

    def transforms(self, record: FileRecord) -> bool:
        return record.provider in self._transforms

    async def presign(self, record: FileRecord, expires_s: int) -> str:
        return await self.store_of(record).presign(record.key, expires_s)

    async def url(self, record: FileRecord) -> str:
        """The public URL, or a presigned one where there is none."""
        return self.public_url(record) or await self.presign(record, self.presign_s)

    async def delete(self, file_id: str) -> None:
        """From the store it lives in, then the record (a store that fails leaves the
        record, so the delete can be asked again); a copy a migration left on the
        other store goes too where that store answers. Never while a migration of the
        file runs (it waits for it, LockBusy past a few seconds)."""
        async with self.files.held(file_id, ttl_s=DELETE_HOLD_S, wait_s=DELETE_WAIT_S):
            record = await self.get(file_id)
            with contextlib.suppress(ObjectMissing):
                await self.store_of(record).delete(record.key)
            for name, store in self.stores.items():
                if name == record.provider:
                    continue
                try:
                    await store.delete(record.key)
                except StorageError as exc:  # not where it lives: a leftover at most
                    if not isinstance(exc, ObjectMissing):
                        log.warning("storage: %s on %s not deleted: %s", record.key, name, exc)
            await self.files.forget(record)
