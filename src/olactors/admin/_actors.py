"""The actor tree on the admin listener: every snapshot, and restarts by hand."""

from __future__ import annotations

from quart import Response
from quart_trio import QuartTrio

from ..runtime import ActorContext, ActorNotFound, ChildStartFailed
from ._answers import error_answer as _error
from ._answers import json_answer as _json


def register_actors(app: QuartTrio, context: ActorContext) -> None:
    """``GET /actors``, ``GET /actors/<path>``, ``POST /actors/<path>/restart``."""

    @app.get("/actors")
    async def actors() -> Response:
        return _json(context.snapshot(context.root))

    @app.get("/actors/<path:path>")
    async def actor(path: str) -> Response:
        try:
            return _json(context.snapshot("/" + path))
        except ActorNotFound as exc:
            return _error(404, str(exc))

    @app.post("/actors/<path:path>/restart")
    async def restart(path: str) -> Response:
        target = ("/" + path).rstrip("/")
        if context.path == target or context.path.startswith(target + "/"):
            # It would stop this listener mid-answer: the caller would see the
            # connection drop and never learn whether the restart happened.
            return _error(409, f"{target} holds the admin listener itself; restart the daemon")
        parent, _, name = target.rpartition("/")
        try:
            await context.supervisor(parent).restart_child(name)
        except ActorNotFound:
            return _error(404, f"no child at /{path} to restart")
        except ChildStartFailed as exc:
            return _error(409, str(exc))
        return _json({"status": "restarted", "path": "/" + path})
