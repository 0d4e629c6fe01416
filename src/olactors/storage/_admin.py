"""Migrations on the admin listener: the files still on the fallback, why, and a retry
now (what ``olactors storage migrations | retry`` calls)."""

from __future__ import annotations

import msgspec
from quart import Response
from quart_trio import QuartTrio

from ..admin import AdminPart, error_answer, json_answer
from ..runtime import ActorContext
from ..store import Store, StoreError
from ._files import PENDING_PREFIX, FileRecord, Files
from ._service import enqueue_migration

#: At most this many waiting files are listed (the oldest first among them).
LISTED = 1000


def storage_admin() -> AdminPart:
    def part(app: QuartTrio, context: ActorContext, store: Store) -> None:
        files = Files(store)

        @app.get("/storage/migrations")
        async def list_migrations() -> Response:
            pending: list[FileRecord] = []
            cursor = ""
            try:
                while len(pending) < LISTED:
                    page = await store.keys(PENDING_PREFIX, cursor=cursor, limit=100)
                    for key in page.keys:
                        record = await files.get(key.removeprefix(PENDING_PREFIX))
                        if record is not None and record.migration == "pending":
                            pending.append(record)
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
            except StoreError as exc:
                return error_answer(503, str(exc))
            listed = sorted(pending, key=lambda r: r.created_at)
            return json_answer([msgspec.to_builtins(r) for r in listed])

        @app.post("/storage/migrations/<file_id>/retry")
        async def retry_migration(file_id: str) -> Response:
            try:
                record = await files.get(file_id)
                if record is None or record.migration != "pending":
                    return error_answer(404, f"no file {file_id} waits for a migration")
                await enqueue_migration(store, context, record)
            except StoreError as exc:
                return error_answer(503, str(exc))
            return json_answer({"id": file_id, "queued": True}, 202)

    return part
