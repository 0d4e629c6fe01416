"""The syncs on the admin listener: what each is, its checkpoint and runs, a run now,
and its conflicts, listed and settled (what ``olactors sync`` calls)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from quart import Response, request
from quart_trio import QuartTrio

from ..admin import AdminPart, error_answer, json_answer
from ..config.sync import SyncEntry
from ..runtime import ActorContext, ActorError
from ..store import Store
from ._service import BadCursor, NoSuchRun, NoSuchSync, SyncService, Unstorable
from ._sql import DATABASE_ERRORS
from ._tables import NoSuchConflict, NoSuchRecord


async def _answer(work: Awaitable[Any], status: int = 200) -> Response:
    try:
        return json_answer(msgspec.to_builtins(await work), status)
    except (NoSuchSync, NoSuchRun, NoSuchRecord, NoSuchConflict) as exc:
        return error_answer(404, f"not found: {exc}")
    except (BadCursor, Unstorable) as exc:
        return error_answer(400, str(exc))
    except (ActorError, *DATABASE_ERRORS) as exc:
        return error_answer(503, f"the sync did not answer: {type(exc).__name__}")


def sync_admin(
    entries: Mapping[str, SyncEntry], service: Callable[[ActorContext], SyncService]
) -> AdminPart:
    def part(app: QuartTrio, context: ActorContext, store: Store) -> None:
        syncs = service(context)

        def described(name: str) -> dict[str, Any]:
            entry = entries[name]
            return {
                "name": name,
                "source": entry.source,
                "every": entry.every,
                "conflict": entry.conflict,
                "allow_deletions": entry.allow_deletions,
            }

        async def overview(name: str) -> dict[str, Any]:
            runs = await syncs.runs(name, 10)
            return {**described(name), "state": await syncs.state(name), "runs": runs}

        @app.get("/sync")
        async def list_syncs() -> Response:
            async def all_of() -> list[dict[str, Any]]:
                listed = []
                for name in entries:
                    runs = await syncs.runs(name, 1)
                    listed.append({**described(name), "last_run": runs[0] if runs else None})
                return listed

            return await _answer(all_of())

        @app.get("/sync/<name>")
        async def show_sync(name: str) -> Response:
            return await _answer(overview(name))

        @app.post("/sync/<name>/runs")
        async def run_sync(name: str) -> Response:
            full = request.args.get("full", "").lower() in ("1", "true", "yes")
            return await _answer(syncs.start(name, full=full), 202)

        @app.get("/sync/<name>/runs/<run>")
        async def show_run(name: str, run: str) -> Response:
            return await _answer(syncs.run(name, run))

        @app.get("/sync/<name>/conflicts")
        async def list_conflicts(name: str) -> Response:
            cursor = request.args.get("cursor") or None
            return await _answer(syncs.conflicts(name, cursor, 100))

        @app.post("/sync/<name>/conflicts/<rid>/resolve")
        async def resolve(name: str, rid: str) -> Response:
            body = await request.get_json(force=True, silent=True)
            take = body.get("take") if isinstance(body, dict) else None
            record = body.get("record") if isinstance(body, dict) else None
            if (take in ("external", "local")) == isinstance(record, dict):
                return error_answer(400, 'send {"take": "external" | "local"} or {"record": {}}')
            return await _answer(syncs.resolve(name, rid, take, record, context.clock()))

    return part
