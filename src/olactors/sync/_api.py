"""``/v1/sync/{name}/...``: the app reads synced records by a changes cursor, writes its own,
starts runs, follows them, and settles the conflicts waiting for a person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from ..api import (
    ApiPart,
    InvalidRequest,
    NotFound,
    Operations,
    Unavailable,
    ValidationFailed,
)
from ..runtime import ActorContext, ActorError
from ..store import Store
from ._actor import Started
from ._service import (
    BadCursor,
    ConflictsPage,
    NoSuchRun,
    NoSuchSync,
    RecordOut,
    RecordsPage,
    RunOut,
    SyncService,
    Unstorable,
)
from ._sql import DATABASE_ERRORS
from ._tables import NoSuchConflict, NoSuchRecord

T = TypeVar("T")

SyncName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["customers"])]


class Page(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cursor: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


class RunQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: A full run (every record, and deletions where allowed) instead of what changed.
    full: bool = False


class LocalRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    data: dict[str, Any]


class Resolution(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``take`` one side, or give the ``record`` to keep (an edit of both)."""

    take: Literal["external", "local"] | None = None
    record: dict[str, Any] | None = None


class RunStarted(msgspec.Struct, frozen=True):
    id: str
    #: A run was already going: this is its id.
    already_running: bool


async def answered(work: Awaitable[T]) -> T:
    """``work``'s answer, its failures as the app API's errors."""
    try:
        return await work
    except NoSuchSync as exc:
        raise NotFound(f"no sync {exc} is configured") from None
    except NoSuchRecord as exc:
        raise NotFound(f"no record {exc}") from None
    except NoSuchConflict as exc:
        raise NotFound(f"no conflict is waiting for record {exc}") from None
    except NoSuchRun as exc:
        raise NotFound(f"no run {exc}") from None
    except BadCursor as exc:
        raise InvalidRequest(str(exc)) from None
    except Unstorable as exc:
        raise ValidationFailed(str(exc)) from None
    except ActorError as exc:
        raise Unavailable(f"the sync did not answer: {type(exc).__name__}") from None
    except DATABASE_ERRORS as exc:  # the database is down, or refused
        raise Unavailable(f"the sync's database did not answer: {type(exc).__name__}") from None


def sync_part(service: Callable[[ActorContext], SyncService]) -> ApiPart:
    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        syncs = service(context)
        named = {"name": SyncName}
        one = {"name": SyncName, "rid": str}

        @operations.add(
            "GET",
            "/v1/sync/<name>/records",
            summary="Records changed since the cursor, deletions included (none: from the start)",
            query=Page,
            response=RecordsPage,
            tag="sync",
            errors=(404,),
            params=named,
        )
        async def list_sync_records(body: None, query: Page, name: str) -> RecordsPage:
            return await answered(syncs.records(name, query.cursor, query.limit))

        @operations.add(
            "PUT",
            "/v1/sync/<name>/records/<id:rid>",
            summary="The app's own version of a record (a conflict if the source changes it too)",
            body=LocalRecord,
            response=RecordOut,
            tag="sync",
            errors=(404,),
            params=one,
        )
        async def put_sync_record(body: LocalRecord, query: None, name: str, rid: str) -> RecordOut:
            return await answered(syncs.put(name, rid, body.data, context.clock()))

        @operations.add(
            "DELETE",
            "/v1/sync/<name>/records/<id:rid>",
            summary="Delete a record here (the source keeps it; a conflict if it changes it)",
            response=RecordOut,
            tag="sync",
            errors=(404,),
            params=one,
        )
        async def delete_sync_record(body: None, query: None, name: str, rid: str) -> RecordOut:
            return await answered(syncs.delete(name, rid, context.clock()))

        @operations.add(
            "POST",
            "/v1/sync/<name>/runs",
            summary="Run the sync now (the running one's id if one is going)",
            query=RunQuery,
            response=RunStarted,
            status=202,
            tag="sync",
            errors=(404,),
            params=named,
        )
        async def start_sync_run(body: None, query: RunQuery, name: str) -> RunStarted:
            started: Started = await answered(syncs.start(name, full=query.full))
            return RunStarted(started.id, started.already_running)

        @operations.add(
            "GET",
            "/v1/sync/<name>/runs/<id:run>",
            summary="A run's status and what it did",
            response=RunOut,
            tag="sync",
            errors=(404,),
            params={"name": SyncName, "run": str},
        )
        async def get_sync_run(body: None, query: None, name: str, run: str) -> RunOut:
            return await answered(syncs.run(name, run))

        @operations.add(
            "GET",
            "/v1/sync/<name>/conflicts",
            summary="Conflicts waiting for a person: both versions and the last synced one",
            query=Page,
            response=ConflictsPage,
            tag="sync",
            errors=(404,),
            params=named,
        )
        async def list_sync_conflicts(body: None, query: Page, name: str) -> ConflictsPage:
            return await answered(syncs.conflicts(name, query.cursor, query.limit))

        @operations.add(
            "POST",
            "/v1/sync/<name>/conflicts/<id:rid>/resolve",
            summary="Settle a conflict: take the external or the local version, or an edit",
            body=Resolution,
            response=RecordOut,
            tag="sync",
            errors=(404,),
            params=one,
        )
        async def resolve_sync_conflict(
            body: Resolution, query: None, name: str, rid: str
        ) -> RecordOut:
            if (body.take is None) == (body.record is None):
                raise InvalidRequest('send {"take": "external" | "local"} or {"record": {...}}')
            return await answered(syncs.resolve(name, rid, body.take, body.record, context.clock()))

    return part
