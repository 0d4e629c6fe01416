"""``POST /chaos/crash`` on the admin listener: crash a named actor now (``[chaos]`` only)."""

from __future__ import annotations

import msgspec
from quart import Response, request
from quart_trio import QuartTrio

from ..admin import AdminPart, error_answer, json_answer
from ..runtime import ActorContext, ActorError, ActorNotFound
from ..store import Store
from ._injector import CHAOS_PATH, CrashNow, CrashRefused


def chaos_admin(injector: str = CHAOS_PATH) -> AdminPart:
    """The route, asking the injector at ``injector`` so that every crash is counted and
    logged in one place. 200 with the injection, 400 for a body without ``{"path":
    "/root/..."}``, 404 for no actor there (or a supervisor), 409 for an actor that is not
    running, the injector, or the admin listener answering."""

    def part(app: QuartTrio, context: ActorContext, store: Store) -> None:
        @app.post("/chaos/crash")
        async def inject_chaos_crash() -> Response:
            body = await request.get_json(force=True, silent=True)
            path = body.get("path") if isinstance(body, dict) else None
            if not isinstance(path, str) or not path.startswith("/"):
                return error_answer(400, 'send {"path": "/root/..."}, an actor\'s path')
            path = path.rstrip("/")
            if path == context.path:
                # The answer would be cut off with the listener: the caller could not
                # tell whether the crash happened.
                return error_answer(409, f"{path} is the admin listener answering this")
            try:
                ref = context.actor_ref(injector)
            except ActorNotFound:
                return error_answer(503, f"no crash injector at {injector}")
            try:
                injection = await ref.ask(CrashNow(path))
            except ActorNotFound as exc:
                return error_answer(404, str(exc))
            except CrashRefused as exc:
                return error_answer(409, str(exc))
            except ActorError as exc:
                return error_answer(503, f"the crash injector did not answer: {exc}")
            return json_answer(msgspec.to_builtins(injection))

    return part
