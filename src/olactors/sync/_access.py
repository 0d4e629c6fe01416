"""One sync's tables for trio code: each call runs in a worker thread, one at a time
per connection, and is never abandoned halfway (a transaction ends where it began)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import psycopg
import trio

from ._sql import Database
from ._tables import SyncTables

P = ParamSpec("P")
T = TypeVar("T")


class SyncAccess:
    def __init__(self, open_db: Callable[[], Database], sync: str) -> None:
        self._open = open_db
        self.sync = sync
        self._tables: SyncTables | None = None
        self._lock = trio.Lock()

    async def tables(self) -> SyncTables:
        """The tables, the connection opened (and the schema made) at the first use."""
        async with self._lock:
            if self._tables is None:

                def open_tables() -> SyncTables:
                    tables = SyncTables(self._open(), self.sync)
                    try:
                        tables.create()
                    except BaseException:
                        tables.db.close()
                        raise
                    return tables

                self._tables = await trio.to_thread.run_sync(open_tables)
            return self._tables

    async def call(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``method`` (of :meth:`tables`) with these arguments, in a worker thread. A
        connection the server dropped is closed, and the next call opens a new one."""
        tables = await self.tables()
        async with self._lock:
            try:
                return await trio.to_thread.run_sync(lambda: method(*args, **kwargs))
            except (psycopg.OperationalError, psycopg.InterfaceError):
                if tables.db.broken():
                    self._tables = None
                    await trio.to_thread.run_sync(tables.db.close)
                raise

    async def aclose(self) -> None:
        async with self._lock:
            if self._tables is not None:
                db, self._tables = self._tables.db, None
                await trio.to_thread.run_sync(db.close)
