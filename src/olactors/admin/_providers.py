"""The per-provider actors (limiter, breaker) under the resilience tree, as the admin sees them."""

from __future__ import annotations

from typing import Any, Literal

from quart import Response
from quart_trio import QuartTrio

from ..resilience import RESILIENCE_PATH, CircuitBreaker
from ..runtime import ActorContext, ActorNotFound, ActorSnapshot, walk
from ._answers import error_answer as _error
from ._answers import json_answer as _json


def provider_states(context: ActorContext, kind: Literal["breaker", "limiter"]) -> dict[str, Any]:
    """``{provider: inspect() state}`` of every provider's limiter or breaker."""
    # Each provider's actors sit at <RESILIENCE_PATH>/<provider>/<kind>.
    return {
        node.path.split("/")[-2]: node.state
        for node in walk(context.snapshot(RESILIENCE_PATH))
        if isinstance(node, ActorSnapshot) and node.name == kind
    }


def register_providers(app: QuartTrio, context: ActorContext) -> None:
    """``GET /breakers``, ``POST /breakers/<provider>/reset``, ``GET /limiters``."""

    @app.get("/breakers")
    async def breakers() -> Response:
        return _json(provider_states(context, "breaker"))

    @app.post("/breakers/<provider>/reset")
    async def reset_breaker(provider: str) -> Response:
        try:
            ref = context.actor_ref(f"{RESILIENCE_PATH}/{provider}/breaker")
        except ActorNotFound:
            return _error(404, f"no breaker for {provider}")
        await CircuitBreaker(provider, ref).reset()
        return _json({"status": "reset", "provider": provider})

    @app.get("/limiters")
    async def limiters() -> Response:
        return _json(provider_states(context, "limiter"))
