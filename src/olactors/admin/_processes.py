"""``GET /processes``: every daemon process sharing this store, whichever one answers.

Behind one admin address (a parent's shared socket, or a balancer over
replicas) each request reaches one process; every answer names it in the
``Olactors-Process`` header, and this list names them all, from the records
each keeps in the store (see ``processes._presence``).
"""

from __future__ import annotations

import msgspec
from quart import Response
from quart_trio import QuartTrio

from ..processes import live_processes
from ..runtime import ActorContext
from ..store import Store
from ._answers import from_store
from ._answers import json_answer as _json


def register_processes(app: QuartTrio, context: ActorContext, store: Store) -> None:
    @app.get("/processes")
    async def list_processes() -> Response:
        async def listed() -> Response:
            records = await live_processes(store)
            return _json({"processes": [msgspec.to_builtins(r) for r in records]})

        return await from_store(listed(), missing="no process records")
