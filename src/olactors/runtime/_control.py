"""A supervisor's control channel: the commands it takes and the handle that sends them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ._child import ChildExited
from ._reply import Reply
from ._spec import ChildSpec


class StartChild(msgspec.Struct, frozen=True):
    spec: Any
    reply: Reply


class RemoveChild(msgspec.Struct, frozen=True):
    name: str
    reply: Reply


class RestartChild(msgspec.Struct, frozen=True):
    name: str
    reply: Reply


class StopSupervisor(msgspec.Struct, frozen=True):
    drain: bool


Command = ChildExited | StartChild | RemoveChild | RestartChild | StopSupervisor


class SupervisorRef:
    """A handle on a supervisor, for changing its children at run time.

    Each call is a command to the supervisor's decision loop and waits until
    the supervisor has carried it out (which may include a child's shutdown
    timeout). Calls made while the supervisor restarts wait for its next
    incarnation; once it is gone for good they raise :class:`ActorStopped`.
    """

    __slots__ = ("_names", "_post", "path")

    def __init__(
        self, path: str, post: Callable[[Command], None], names: Callable[[], list[str]]
    ) -> None:
        self.path = path
        self._post = post
        self._names = names

    def __repr__(self) -> str:
        return f"<SupervisorRef {self.path}>"

    def children(self) -> list[str]:
        """Names of the current children, in start order."""
        return self._names()

    async def start_child(self, spec: ChildSpec) -> Any:
        """Add a child after the others and start it; return its handle.

        Raises :class:`DuplicateChild` for a name in use and
        :class:`ChildStartFailed` (with nothing added) if it cannot start.
        """
        reply = Reply()
        self._post(StartChild(spec, reply))
        return await reply.wait()

    async def remove_child(self, name: str) -> None:
        """Stop a child (draining its mailbox) and remove it; its refs then raise ActorStopped."""
        reply = Reply()
        self._post(RemoveChild(name, reply))
        await reply.wait()

    async def restart_child(self, name: str) -> None:
        """Stop a child (after its current message) and start it again, by an operator's hand.

        Counted in the child's restarts but not against the restart intensity.
        """
        reply = Reply()
        self._post(RestartChild(name, reply))
        await reply.wait()
