"""An upload: spooled to disk, sent to the primary, to the fallback while the primary
fails, recorded; and a durable migration job when it landed on the fallback."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from pathlib import Path

import trio

from ..runtime import Clock
from ..store import StoreError
from ._files import FileRecord, Files, new_file_id
from ._objects import ObjectStore, StorageError
from ._spool import Spool, spool

log = logging.getLogger("olactors.storage")

#: What a key may hold: letters and digits (any script), and S3's safe punctuation,
#: which Supabase takes too.
_KEY = re.compile(r"^[\w!\-.*'() /]+$")


class BadKey(Exception):
    pass


class KeyTaken(Exception):
    pass


class ChecksumMismatch(Exception):
    pass


def check_key(key: str) -> str:
    """A key a store takes as is and a URL can carry: 1 to 1,024 bytes, no control
    characters, no empty, ``.`` or ``..`` segment, no leading or trailing ``/``."""
    if not 0 < len(key.encode()) <= 1024:
        raise BadKey("a key is 1 to 1,024 bytes")
    if not _KEY.match(key):
        raise BadKey("a key holds letters, digits, spaces, / and ! - _ . * ' ( ) only")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise BadKey("a key has no empty, '.' or '..' segment (nor a leading or trailing /)")
    return key


class Uploader:
    def __init__(
        self,
        files: Files,
        stores: Mapping[str, ObjectStore],
        primary: str,
        fallback: str | None,
        *,
        spool_dir: Path,
        max_bytes: int,
        clock: Clock,
        migrate: Callable[[FileRecord], Awaitable[None]],
    ) -> None:
        self.files = files
        self.stores = stores
        self.primary = primary
        self.fallback = fallback
        self.spool_dir = spool_dir
        self.max_bytes = max_bytes
        self.clock = clock
        self.migrate = migrate

    async def upload(
        self,
        chunks: AsyncIterable[bytes],
        key: str,
        content_type: str,
        metadata: Mapping[str, str],
        checksum: str | None,
    ) -> FileRecord:
        """Store the upload at ``key``; its record. KeyTaken if a file is there already;
        ChecksumMismatch if ``checksum`` (SHA-256, hex) is not the body's."""
        file_id = new_file_id()
        if not await self.files.claim_key(key, file_id):
            raise KeyTaken(key)
        try:
            record = await self._upload(file_id, chunks, key, content_type, metadata, checksum)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self.files.release_key(key, file_id)
            raise
        if record.migration == "pending":
            try:
                await self.migrate(record)
            except StoreError as exc:
                # The file is stored and recorded: answering an error would have the
                # app upload it again. It waits, listed, for an admin's retry.
                log.warning("storage: %s's migration was not queued: %s", record.id, exc)
        return record

    async def _upload(
        self,
        file_id: str,
        chunks: AsyncIterable[bytes],
        key: str,
        content_type: str,
        metadata: Mapping[str, str],
        checksum: str | None,
    ) -> FileRecord:
        spooled = await spool(chunks, self.spool_dir, self.max_bytes)
        try:
            given = (checksum or "").lower().encode()
            if checksum is not None and not hmac.compare_digest(given, spooled.sha256.encode()):
                raise ChecksumMismatch("the body's SHA-256 is not the one given")
            where = await self._store(key, spooled, content_type)
        finally:
            await spooled.discarded()
        record = FileRecord(
            file_id,
            key,
            where,
            spooled.size,
            spooled.sha256,
            content_type,
            self.clock(),
            dict(metadata),
            migration="pending" if where != self.primary else "none",
        )
        await self.files.put(record)
        return record

    async def _store(self, key: str, spooled: Spool, content_type: str) -> str:
        """Where the file went: the primary, or the fallback while the primary fails."""
        try:
            await self.stores[self.primary].put(key, spooled, content_type)
        except StorageError as exc:
            if not exc.transient or self.fallback is None:
                raise
            log.warning(
                "storage: %s failed (%s); %s goes to %s", self.primary, exc, key, self.fallback
            )
        else:
            return self.primary
        await self.stores[self.fallback].put(key, spooled, content_type)
        return self.fallback
