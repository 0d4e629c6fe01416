"""What an object store does for the daemon, whichever it is, and how it fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ._spool import Spool


class StorageError(Exception):
    """A store refused or failed a call. ``transient``: it may work later (down, 5xx,
    its breaker open), which is when an upload goes to the fallback."""

    transient = False

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class StorageUnavailable(StorageError):
    transient = True


class ObjectMissing(StorageError):
    pass


class UploadConflict(StorageError):
    """Another upload to the same key is going (Supabase's 409)."""


class StorageRefused(StorageError):
    """The store refused the request itself (a 4xx): it will refuse it again."""


class ObjectStore(Protocol):
    name: str

    async def put(self, key: str, spool: Spool, content_type: str) -> None:
        """Store the spooled file at ``key`` (in parts when it is large)."""
        ...

    def get(self, key: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """The object's bytes as they come (ObjectMissing if there is none)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def presign(self, key: str, expires_s: int) -> str:
        """A URL that reads the object without credentials for ``expires_s``."""
        ...

    def public_url(self, key: str) -> str | None: ...

    async def probe(self) -> None:
        """A cheap call that succeeds while the store answers (a StorageError if not)."""
        ...

    async def aclose(self) -> None: ...
