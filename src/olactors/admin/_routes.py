"""Delivery destinations on the admin listener: list them, pause and resume them."""

from __future__ import annotations

import msgspec
from quart import Response, request
from quart_trio import QuartTrio

from ..delivery import DELIVERY_PATH, Pause, ResetBreaker, Resume, RouteState, courier_path
from ..runtime import ActorContext, ActorError, ActorNotFound, SupervisorSnapshot
from ._answers import json_answer as _json


def register_routes(app: QuartTrio, context: ActorContext) -> None:
    """``GET /routes``; ``POST /routes/<namespace>/<name>/pause|resume|reset-breaker``."""

    @app.get("/routes")
    async def routes() -> Response:
        try:
            tree = context.snapshot(DELIVERY_PATH)
        except ActorNotFound:
            return _json([])
        listed = []
        for group in tree.children if isinstance(tree, SupervisorSnapshot) else []:
            for courier in group.children if isinstance(group, SupervisorSnapshot) else []:
                if isinstance(courier, SupervisorSnapshot):
                    continue
                listed.append({"path": courier.path, "status": courier.status, **courier.state})
        return _json(listed)

    @app.post("/routes/<namespace>/<name>/pause")
    async def pause(namespace: str, name: str) -> Response:
        body = await request.get_json(force=True, silent=True)
        reason = body.get("reason") if isinstance(body, dict) else None
        message = Pause(reason) if isinstance(reason, str) and reason else Pause()
        return await _steer(namespace, name, message)

    @app.post("/routes/<namespace>/<name>/resume")
    async def resume(namespace: str, name: str) -> Response:
        return await _steer(namespace, name, Resume())

    @app.post("/routes/<namespace>/<name>/reset-breaker")
    async def reset_route_breaker(namespace: str, name: str) -> Response:
        return await _steer(namespace, name, ResetBreaker())

    async def _steer(namespace: str, name: str, message: Pause | Resume | ResetBreaker) -> Response:
        try:
            ref = context.actor_ref(courier_path(namespace, name))
            state: RouteState = await ref.ask(message, timeout=5.0)
        except ActorNotFound:
            return _json({"error": f"no destination {name} in {namespace}"}, 404)
        except (ActorError, OSError) as exc:
            return _json({"error": f"could not reach {namespace}/{name}: {exc}"}, 503)
        except Exception as exc:  # the store refused to keep the state (reply error)
            return _json({"error": f"{type(exc).__name__}: {exc}"}, 503)
        return _json(msgspec.to_builtins(state))
