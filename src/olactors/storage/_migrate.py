"""A file that landed on the fallback goes home: a durable job on the store's queues,
run by a courier (so once across replicas, retried on its schedule, dead-lettered at the
end, visible with every other queue), copies it to the primary when the primary answers
again, reads it back to check size and SHA-256, records where it lives and deletes the
fallback's copy.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import msgspec

from ..delivery import AttemptFailed, Delivered
from ..runtime import Clock
from ..store import LockBusy, QueueItem
from ._files import FileRecord, Files
from ._objects import ObjectMissing, ObjectStore, StorageError
from ._spool import spool

log = logging.getLogger("olactors.storage")


class MigrationJob(msgspec.Struct, frozen=True):
    file: str


class MigrationDestination:
    def __init__(
        self,
        files: Files,
        stores: Mapping[str, ObjectStore],
        primary: str,
        *,
        spool_dir: Path,
        max_bytes: int,
        clock: Clock,
        hold_s: float,
    ) -> None:
        self.hold_s = hold_s
        self.files = files
        self.stores = stores
        self.primary = primary
        self.spool_dir = spool_dir
        self.max_bytes = max_bytes
        self.clock = clock

    async def aclose(self) -> None:
        return None

    async def deliver(self, item: QueueItem) -> Delivered:
        job = msgspec.json.decode(item.payload, type=MigrationJob)
        try:
            # Held for the whole copy: the file cannot be deleted meanwhile (its key
            # freed, another file put there, which this copy would overwrite), nor
            # migrated by a second job (an admin's retry beside a scheduled one).
            async with self.files.held(job.file, ttl_s=self.hold_s, wait_s=0.0):
                return await self._migrate(job.file)
        except LockBusy:
            raise AttemptFailed("the file is being migrated or deleted now") from None

    async def _migrate(self, file_id: str) -> Delivered:
        record = await self.files.get(file_id)
        if record is None or record.provider == self.primary:
            return Delivered(response=b"nothing to move")  # deleted, or moved already
        source = self.stores[record.provider]
        home = self.stores[self.primary]
        try:
            await self._copy(record, source, home)
        except (StorageError, AttemptFailed) as exc:
            # Whatever failed (even a conflict: an upload cut short there still
            # holds the path until the store drops it), the next try may pass.
            record.migration_attempts += 1
            record.migration_error = str(exc)[:300]
            await self.files.put(record)
            if isinstance(exc, AttemptFailed):
                raise
            raise AttemptFailed(str(exc)) from exc
        was = record.provider
        record.provider = self.primary
        record.migration = "done"
        record.migration_error = None
        record.migrated_at = self.clock()
        record.migration_attempts += 1
        await self.files.put(record)
        try:
            await source.delete(record.key)
        except ObjectMissing:
            pass
        except StorageError as exc:  # the file is home; the copy is only left over
            log.warning("storage: %s's copy of %s was not deleted: %s", was, record.key, exc)
        return Delivered(response=f"moved from {was}".encode())

    async def _copy(self, record: FileRecord, source: ObjectStore, home: ObjectStore) -> None:
        """The fallback's copy to the primary, each checked against the upload."""
        async with source.get(record.key) as chunks:
            copy = await spool(chunks, self.spool_dir, self.max_bytes)
        try:
            _same(record, copy.size, copy.sha256, f"the copy on {record.provider}")
            await home.put(record.key, copy, record.content_type)
        finally:
            await copy.discarded()
        size, digest = await _measure(home, record.key)
        _same(record, size, digest, f"what {self.primary} holds")


def _same(record: FileRecord, size: int, digest: str, what: str) -> None:
    if (size, digest) != (record.size, record.sha256):
        raise AttemptFailed(f"{what} is not the file uploaded (size or SHA-256)")


async def _measure(store: ObjectStore, key: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    async with store.get(key) as chunks:
        async for chunk in chunks:
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()
