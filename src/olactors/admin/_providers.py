"""The per-provider actors (limiter, breaker) under the resilience tree, as the admin sees them."""

from __future__ import annotations

from typing import Any, Literal

from ..runtime import ActorContext

RESILIENCE = "/root/resilience"


def provider_states(context: ActorContext, kind: Literal["breaker", "limiter"]) -> dict[str, Any]:
    """``{provider: inspect() state}`` of every provider's limiter or breaker."""
    states = {}
    for provider in context.snapshot(RESILIENCE).children:
        for actor in provider.children:
            if actor.name == kind:
                states[provider.name] = actor.state
    return states
