"""Names in the store, namespaced so that no two users of the engine can collide.

Namespaces and destination names are ``[A-Za-z0-9_.-]`` (the store checks),
so the colons below separate them unambiguously.
"""

from __future__ import annotations


def queue_name(namespace: str, destination: str) -> str:
    """The queue holding what waits for ``destination`` of ``namespace``."""
    return f"d:{namespace}:{destination}"


def state_key(namespace: str, destination: str) -> str:
    """The key-value entry holding a destination's pause or disablement."""
    return f"delivery:{namespace}:{destination}:state"


def destination_of(queue: str) -> tuple[str, str] | None:
    """The (namespace, destination) whose queue this is, or None for another queue."""
    kind, _, rest = queue.partition(":")
    namespace, _, destination = rest.partition(":")
    if kind != "d" or not namespace or not destination:
        return None
    return namespace, destination
