"""Every live child of an actor system, by path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ActorNotFound, DuplicateChild

if TYPE_CHECKING:
    from ._child import Child
    from ._control import SupervisorRef
    from ._ref import ActorRef


class Registry:
    """Maps paths such as ``/root/delivery/webhooks.stripe/to-app`` to children.

    Supervisors register a child when they add it and unregister it when it
    is removed for good; a restart keeps the registration (and so every ref
    handed out stays valid).
    """

    def __init__(self) -> None:
        self._children: dict[str, Child] = {}

    def register(self, child: Child) -> None:
        if child.path in self._children:
            raise DuplicateChild(child.path)
        self._children[child.path] = child

    def unregister(self, path: str) -> None:
        self._children.pop(path, None)

    def get(self, path: str) -> Child:
        try:
            return self._children[path.rstrip("/") or "/"]
        except KeyError:
            raise ActorNotFound(path) from None

    def handle(self, path: str) -> ActorRef[Any] | SupervisorRef:
        """The public handle of the child at ``path`` (an ActorRef or SupervisorRef)."""
        handle: ActorRef[Any] | SupervisorRef = self.get(path).handle()
        return handle

    def paths(self) -> list[str]:
        return sorted(self._children)
