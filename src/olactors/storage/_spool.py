"""An upload written to disk as it arrives, with its size and SHA-256, so it can be sent
to the primary, and again to the fallback, without ever being whole in memory."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio


class TooLarge(Exception):
    pass


@dataclass
class Spool:
    path: Path
    size: int
    sha256: str

    async def read(self, offset: int, length: int) -> bytes:
        def chunk() -> bytes:
            with self.path.open("rb") as file:
                file.seek(offset)
                return file.read(length)

        return await trio.to_thread.run_sync(chunk)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    async def discarded(self) -> None:
        """Removed, even when the caller is being cancelled (a client gone mid-upload)."""
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self.discard)


def sweep(folder: Path, older_than_s: float, now: float) -> int:
    """Remove spool files a process that died left behind (any older than ``older_than_s``:
    a live upload's file is younger); how many."""
    removed = 0
    for leftover in folder.glob("upload-*") if folder.is_dir() else []:
        try:
            if now - leftover.stat().st_mtime > older_than_s:
                leftover.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


async def spool(chunks: AsyncIterable[bytes], folder: Path, limit: int) -> Spool:
    """Write ``chunks`` to a private file in ``folder``; TooLarge past ``limit`` bytes
    (the file is removed)."""
    await trio.Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, name = await trio.to_thread.run_sync(
        partial(tempfile.mkstemp, prefix="upload-", dir=folder)
    )
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        async with trio.wrap_file(os.fdopen(handle, "wb")) as file:
            async for chunk in chunks:
                size += len(chunk)
                _within(size, limit)
                digest.update(chunk)
                await file.write(chunk)
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.Path(path).unlink(missing_ok=True)
        raise
    return Spool(path, size, digest.hexdigest())


def _within(size: int, limit: int) -> None:
    if size > limit:
        raise TooLarge(f"the upload is larger than {limit} bytes")
