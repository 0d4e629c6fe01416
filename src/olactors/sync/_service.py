"""A listener's way into the syncs: their records, runs and conflicts, for the app API and
the admin alike. Reads and the app's writes go to the database directly (a connection
per sync, opened at first use, closed with the listener); runs are asked of the actors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..runtime import ActorContext, ActorNotFound
from ..times import iso_utc
from ._access import SyncAccess
from ._actor import Started, StartRun
from ._records import canonical
from ._rules import Side
from ._sql import Database
from ._tables import ConflictView, RecordView, RunView

#: Where each sync's actor is.
SYNC_PATH = "/root/sync"


class NoSuchSync(Exception):
    pass


class NoSuchRun(Exception):
    pass


class BadCursor(Exception):
    pass


class Unstorable(Exception):
    """A record neither database can keep as it is."""


def storable(data: dict[str, Any]) -> None:
    """Unstorable for a NUL character: PostgreSQL's jsonb has no room for one."""
    if b"\\u0000" in canonical(data):
        raise Unstorable("a record may not hold a NUL character (\\u0000)")


class RecordOut(msgspec.Struct, frozen=True):
    id: str
    data: dict[str, Any]
    updated_at: str | None
    deleted: bool


class RecordsPage(msgspec.Struct, frozen=True):
    records: list[RecordOut]
    #: Give it back to get what changed after these (the same one again, when nothing
    #: has yet): the position reached, never null.
    next_cursor: str


class RunOut(msgspec.Struct, frozen=True):
    id: str
    kind: str
    status: str
    created: int
    updated: int
    deleted: int
    unchanged: int
    conflicts: int
    errors: int
    fetched: int
    duration_s: float | None
    started_at: str
    ended_at: str | None
    error: str | None


class ConflictOut(msgspec.Struct, frozen=True):
    id: str
    external: dict[str, Any] | None
    local: dict[str, Any] | None
    base: dict[str, Any] | None
    external_updated_at: str | None
    local_updated_at: str | None
    detected_at: str


class ConflictsPage(msgspec.Struct, frozen=True):
    conflicts: list[ConflictOut]
    next_cursor: str | None


def _iso(moment: float | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def record_out(view: RecordView) -> RecordOut:
    return RecordOut(view.id, view.data, _iso(view.updated_at), view.deleted)


def run_out(view: RunView) -> RunOut:
    return RunOut(
        view.id,
        view.kind,
        view.status,
        view.created,
        view.updated,
        view.deleted,
        view.unchanged,
        view.conflicts,
        view.errors,
        view.fetched,
        None if view.duration_s is None else round(view.duration_s, 3),
        iso_utc(view.started_at),
        _iso(view.ended_at),
        view.error,
    )


def conflict_out(view: ConflictView) -> ConflictOut:
    return ConflictOut(
        view.id,
        view.external,
        view.local,
        view.base,
        _iso(view.external_updated_at),
        _iso(view.local_updated_at),
        iso_utc(view.detected_at),
    )


def _encode(position: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seq, rid = msgspec.json.decode(raw, type=tuple[int, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadCursor("the cursor is not one this API gave") from None
    if not 0 <= seq < 2**63:
        raise BadCursor("the cursor is not one this API gave")
    return seq, rid


class SyncService:
    def __init__(
        self, names: list[str], open_db: Callable[[], Database], context: ActorContext
    ) -> None:
        self.names = names
        self._open_db = open_db
        self._context = context
        self._access: dict[str, SyncAccess] = {}

    def access(self, name: str) -> SyncAccess:
        if name not in self.names:
            raise NoSuchSync(name)
        found = self._access.get(name)
        if found is None:
            found = self._access[name] = SyncAccess(self._open_db, name)
            self._context.close_at_end(found.aclose)
        return found

    async def records(self, name: str, cursor: str | None, limit: int) -> RecordsPage:
        access = self.access(name)
        after = _decode(cursor) if cursor else (0, "")
        tables = await access.tables()
        found = await access.call(tables.records, after, limit)
        last = (found[-1][1], found[-1][0].id) if found else after
        return RecordsPage([record_out(view) for view, _ in found], _encode(last))

    async def put(self, name: str, rid: str, data: dict[str, Any], now: float) -> RecordOut:
        storable(data)
        access = self.access(name)
        tables = await access.tables()
        return record_out(await access.call(tables.put_local, rid, data, now))

    async def delete(self, name: str, rid: str, now: float) -> RecordOut:
        access = self.access(name)
        tables = await access.tables()
        return record_out(await access.call(tables.delete_local, rid, now))

    async def start(self, name: str, *, full: bool) -> Started:
        self.access(name)  # the name is a sync's
        try:
            ref = self._context.actor_ref(f"{SYNC_PATH}/{name}")
        except ActorNotFound:
            raise NoSuchSync(name) from None
        started: Started = await ref.ask(StartRun(full), timeout=30.0)
        return started

    async def run(self, name: str, run: str) -> RunOut:
        access = self.access(name)
        tables = await access.tables()
        found = await access.call(tables.run, run)
        if found is None:
            raise NoSuchRun(run)
        return run_out(found)

    async def runs(self, name: str, limit: int) -> list[RunOut]:
        access = self.access(name)
        tables = await access.tables()
        return [run_out(view) for view in await access.call(tables.runs, limit)]

    async def state(self, name: str) -> Mapping[str, Any]:
        access = self.access(name)
        tables = await access.tables()
        state = await access.call(tables.state)
        return {
            "since": _iso(state.since),
            "fetching": state.fetching,
            "fetch_kind": state.fetch_kind,
            "fetch_cursor": state.fetch_cursor or None,
            "fetched": state.fetched,
            "seq": state.seq,
        }

    async def conflicts(self, name: str, cursor: str | None, limit: int) -> ConflictsPage:
        access = self.access(name)
        tables = await access.tables()
        found = await access.call(tables.conflicts, cursor or "", limit)
        more = len(found) == limit
        return ConflictsPage([conflict_out(v) for v in found], found[-1].id if more else None)

    async def resolve(
        self,
        name: str,
        rid: str,
        take: Side | None,
        record: dict[str, Any] | None,
        now: float,
    ) -> RecordOut:
        if record is not None:
            storable(record)
        access = self.access(name)
        tables = await access.tables()
        return record_out(await access.call(tables.resolve, rid, take, record, now))
