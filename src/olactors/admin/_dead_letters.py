"""Queues and dead letters on the admin listener: list, show, replay, delete."""

from __future__ import annotations

from typing import Any

import msgspec
from quart import Response, request
from quart_trio import QuartTrio

from ..delivery import wake_courier
from ..runtime import ActorContext
from ..store import DeadLetterItem, InvalidStoreCall, Store, StoreError
from ._answers import as_text, from_store
from ._answers import error_answer as _error
from ._answers import json_answer as _json


def register_dead_letters(app: QuartTrio, context: ActorContext, store: Store) -> None:
    """``GET /queues``; ``GET /dead-letters?queue=``; ``GET|DELETE /dead-letters/<id>``;
    ``POST /dead-letters/<id>/replay`` and ``POST /dead-letters/replay`` (all of a queue)."""

    @app.get("/queues")
    async def queues() -> Response:
        try:
            names = await store.queues()
            return _json({name: await store.counts(name) for name in names})
        except StoreError as exc:
            return _error(503, str(exc))

    @app.get("/dead-letters")
    async def dead_letters() -> Response:
        queue = request.args.get("queue", "")
        try:
            limit = int(request.args.get("limit", "50"))
            cursor = int(request.args["cursor"]) if "cursor" in request.args else None
            page = await store.dead_letters(queue, limit=limit, cursor=cursor)
        except (ValueError, InvalidStoreCall) as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        return _json(
            {"items": [_letter(item) for item in page.items], "next_cursor": page.next_cursor}
        )

    @app.get("/dead-letters/<item_id>")
    async def dead_letter(item_id: str) -> Response:
        return await _on_letter(item_id, lambda q: store.dead_letter(q, item_id), _letter)

    def wake(queue: str) -> None:
        """A replayed item is ready now: tell its courier, if it has one."""
        wake_courier(context, queue)

    @app.post("/dead-letters/<item_id>/replay")
    async def replay(item_id: str) -> Response:
        async def action(queue: str) -> None:
            await store.replay(queue, item_id)
            wake(queue)

        return await _on_letter(item_id, action, lambda _: {"status": "replayed"})

    @app.delete("/dead-letters/<item_id>")
    async def delete(item_id: str) -> Response:
        return await _on_letter(
            item_id, lambda q: store.delete_dead_letter(q, item_id), lambda _: {"status": "deleted"}
        )

    @app.post("/dead-letters/replay")
    async def replay_all() -> Response:
        async def action(queue: str) -> int:
            moved = await store.replay_all(queue)
            wake(queue)
            return moved

        return await _on_letter("", action, lambda n: {"status": "replayed", "count": n})

    async def _on_letter(item_id: str, action: Any, shape: Any) -> Response:
        queue = request.args.get("queue", "")

        async def work() -> Response:
            return _json(shape(await action(queue)))

        return await from_store(work(), missing=f"no dead letter {item_id} in {queue}")


def _letter(item: DeadLetterItem) -> dict[str, Any]:
    """A dead letter as JSON; the payload as text when it is UTF-8, else base64."""
    payload, encoding = as_text(item.payload)
    data: dict[str, Any] = msgspec.to_builtins(item)
    data.update(payload=payload, payload_encoding=encoding)
    return data
