"""Every daemon process says it is alive in the store, so the admin can show them all.

``/root/presence`` writes one record per process (host, pid, its parent and
place when a parent started it, when it started, its version) every
``every_s``, kept for ``ttl_s``: a process that dies drops out of the list
once its record lapses. Replicas on one Redis and processes on one sqlite
file list each other, whichever one the admin's connection reached.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from importlib.metadata import version
from typing import Any

import msgspec
import trio

from ..runtime import Actor, ActorSpec
from ..store import STORE_PATH, Store, StoreError
from ._handover import Handover

log = logging.getLogger("olactors.processes")

#: Where every process's record lives in the store.
PRESENCE_PREFIX = "olactors:process:"
PRESENCE_PATH = "/root/presence"
VERSION = version("olactors")


class ProcessRecord(msgspec.Struct, frozen=True):
    id: str
    host: str
    pid: int
    version: str
    started_at: float
    seen_at: float
    #: Set when a parent process started this one (``[server] processes``).
    parent: int | None = None
    index: int | None = None
    count: int | None = None
    restarts: int | None = None


def process_id() -> str:
    """This process among all that share a store: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def this_process(handover: Handover | None, started_at: float, seen_at: float) -> ProcessRecord:
    """The record of the running process, seen at ``seen_at``."""
    return ProcessRecord(
        id=process_id(),
        host=socket.gethostname(),
        pid=os.getpid(),
        version=VERSION,
        started_at=started_at,
        seen_at=seen_at,
        parent=handover.parent if handover else None,
        index=handover.index if handover else None,
        count=handover.count if handover else None,
        restarts=handover.restarts if handover else None,
    )


class Presence(Actor[Any]):
    """Keeps this process's record in the store while it runs, and removes it at an
    orderly stop. A store that does not answer is tried again at the next beat."""

    def __init__(
        self, handover: Handover | None, *, every_s: float = 10.0, ttl_s: float = 30.0
    ) -> None:
        self.handover = handover
        self.every_s = every_s
        self.ttl_s = ttl_s
        self.started_at = 0.0
        self.written_at: float | None = None
        self.last_error: str | None = None

    async def started(self) -> None:
        self.store = Store.at(self.context, STORE_PATH)
        self.started_at = self.context.clock()
        self.key = PRESENCE_PREFIX + process_id()
        self.context.nursery.start_soon(self._beat)

    async def receive(self, message: Any) -> None:
        raise TypeError("presence takes no messages")

    async def _beat(self) -> None:
        while True:
            record = this_process(self.handover, self.started_at, self.context.clock())
            try:
                await self.store.put(self.key, msgspec.json.encode(record), ttl_s=self.ttl_s)
            except StoreError as exc:
                if self.last_error is None:
                    log.warning("presence: cannot write this process's record: %s", exc)
                self.last_error = str(exc)[:300]
            else:
                self.written_at, self.last_error = record.seen_at, None
            await trio.sleep(self.every_s)

    async def stopping(self) -> None:
        # Gone at once from the admin's list, rather than after the TTL.
        # A store that cannot answer now leaves the record to lapse.
        with trio.move_on_after(2.0), contextlib.suppress(StoreError):
            await self.store.delete(self.key)

    def inspect(self) -> dict[str, Any]:
        return {
            "id": self.key.removeprefix(PRESENCE_PREFIX),
            "written_at": self.written_at,
            "last_error": self.last_error,
        }


def presence_spec(handover: Handover | None) -> ActorSpec:
    return ActorSpec("presence", lambda: Presence(handover))


async def live_processes(store: Store) -> list[ProcessRecord]:
    """Every process whose record has not lapsed, by host and pid."""
    records = []
    cursor: str | None = ""
    while cursor is not None:
        page = await store.keys(PRESENCE_PREFIX, cursor=cursor, limit=100)
        for key in page.keys:
            raw = await store.get(key)
            if raw is None:
                continue  # lapsed between the listing and the read
            try:
                records.append(msgspec.json.decode(raw, type=ProcessRecord))
            except msgspec.DecodeError:
                log.warning("presence: %s holds no process record; skipped", key)
        cursor = page.next_cursor
    unique = {record.id: record for record in records}  # SCAN may list a key twice
    return sorted(unique.values(), key=lambda r: (r.host, r.index or 0, r.pid))
