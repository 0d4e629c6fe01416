"""Room kept on the store's disk, so that a full disk is something the store recovers from.

A full disk fails every write; worse, sqlite needs a few megabytes of free
space to checkpoint its write-ahead log and get going again, so without
help it stays stuck after the disk is freed by the operator. The writer
keeps a file of ``size_bytes`` beside the database. When sqlite reports the
disk full it deletes that file: what was reserved is there for the WAL and
for the writes that follow, while someone frees space. Once the disk has
room again (twice the reserve), the reserve is made anew.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..state import PRIVATE_FILE

log = logging.getLogger("olactors.store")

#: Enough for sqlite to checkpoint a busy WAL (about 4 MB) and then some.
DEFAULT_RESERVE_BYTES = 16 * 1024 * 1024
#: How often the writer looks whether a released reserve can be made again.
RESTORE_EVERY_S = 30.0


class DiskReserve:
    """A preallocated file that is given up when the disk fills, and made again after."""

    def __init__(self, path: Path, size_bytes: int = DEFAULT_RESERVE_BYTES) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self._last_try = float("-inf")

    @property
    def held(self) -> bool:
        return self.path.exists()

    def ensure(self) -> bool:
        """Make the reserve if it is missing and the disk has room for it twice over."""
        if self.size_bytes <= 0 or self.held:
            return self.held
        if shutil.disk_usage(self.path.parent).free < 2 * self.size_bytes:
            return False
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        try:
            # Real blocks, not a sparse file: freeing it must free space.
            os.posix_fallocate(descriptor, 0, self.size_bytes)
            os.fsync(descriptor)
        except OSError:
            os.close(descriptor)
            self.path.unlink(missing_ok=True)
            return False
        os.close(descriptor)
        return True

    def release(self) -> bool:
        """Delete the reserve (the disk is full); True if there was one to give."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.error(
            "%s: the disk is full; released the %d MiB reserve so the store can recover. "
            "Free some space: the reserve is made again once there is room",
            self.path.parent,
            self.size_bytes // (1024 * 1024),
        )
        return True

    def restore_if_due(self, now: float) -> None:
        """After a release, try to make the reserve again, at most every RESTORE_EVERY_S."""
        if self.held or now - self._last_try < RESTORE_EVERY_S:
            return
        self._last_try = now
        if self.ensure():
            log.info("%s: disk space is back; the store's reserve is made again", self.path)
