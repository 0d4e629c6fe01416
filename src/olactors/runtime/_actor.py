"""The actor base class and the context an actor sees of the runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec
import trio

from ._clock import Clock
from ._control import SupervisorRef
from ._errors import ActorNotFound
from ._ref import ActorRef
from ._registry import Registry
from ._reply import Reply
from ._snapshot import Snapshot

M = TypeVar("M", bound=msgspec.Struct)


class _CellControl(Protocol):
    """What a context may ask of the cell running its actor."""

    nursery: trio.Nursery | None

    def stop_after_current(self) -> None: ...

    def defer_current(self) -> Reply: ...


class ActorContext:
    """The runtime as one actor sees it: its path, its ref, lookups, its nursery.

    Set as ``actor.context`` before ``started()`` is called. Each incarnation
    gets its own context (same path, same ref); once the incarnation ends,
    ``nursery``, ``stop`` and ``defer`` raise ``RuntimeError``.
    """

    __slots__ = ("_cell", "_ended", "_halt", "_registry", "clock", "path", "ref")

    def __init__(
        self,
        path: str,
        ref: ActorRef[Any],
        registry: Registry,
        cell: _CellControl,
        halt: Callable[[str, int], None],
        clock: Clock,
    ) -> None:
        self.path = path
        self.ref = ref
        #: The system's wall clock (unix seconds): read the time of day here,
        #: not from ``time.time()``, so a test can move it.
        self.clock = clock
        self._registry = registry
        self._cell = cell
        self._halt = halt
        self._ended = False

    def end(self) -> None:
        """The incarnation is over: from now on this context steers nothing."""
        self._ended = True

    def _live_cell(self) -> _CellControl:
        if self._ended:
            raise RuntimeError(f"this instance of {self.path} has ended")
        return self._cell

    @property
    def nursery(self) -> trio.Nursery:
        """The incarnation's own nursery, for the actor's background tasks.

        Tasks started here end with the incarnation: they are cancelled when
        the actor stops or crashes, and a task that raises crashes the actor.
        """
        nursery = self._live_cell().nursery
        if nursery is None:
            raise RuntimeError(f"{self.path} is not running")
        return nursery

    @property
    def root(self) -> str:
        """The path of the tree's root supervisor (``/root``), for actors that read the tree."""
        return "/" + self.path.split("/")[1]

    def actor_ref(self, path: str) -> ActorRef[Any]:
        """The ref of the actor at ``path`` (``ref`` is this actor's own);
        :class:`ActorNotFound` if there is none, or it is a supervisor."""
        handle = self._registry.handle(path)
        if not isinstance(handle, ActorRef):
            raise ActorNotFound(f"{path} (a supervisor, not an actor)")
        return handle

    def supervisor(self, path: str) -> SupervisorRef:
        """The supervisor at ``path``; :class:`ActorNotFound` if none, or an actor."""
        handle = self._registry.handle(path)
        if not isinstance(handle, SupervisorRef):
            raise ActorNotFound(f"{path} (an actor, not a supervisor)")
        return handle

    def snapshot(self, path: str) -> Snapshot:
        """The snapshot of the child at ``path`` and everything under it, as it is now.

        For actors that report on the tree (the admin listener). Never blocks;
        raises :class:`ActorNotFound` for an unknown path.
        """
        return self._registry.get(path).snapshot(trio.current_time())

    def inject_crash(self, path: str, reason: str = "injected") -> bool:
        """Crash the actor at ``path`` on purpose: see ``ActorSystem.inject_crash``.

        For the ``[chaos]`` hook only. False if it is not running;
        :class:`ActorNotFound` for an unknown path or a supervisor's. Never
        blocks. An actor crashing itself this way crashes with the message
        in hand, which is then redelivered as after any crash.
        """
        return self._registry.get(path).inject_crash(reason)

    def stop(self) -> None:
        """End this incarnation normally once the current message is handled.

        A transient or temporary child is then not restarted; a permanent
        one is.
        """
        self._live_cell().stop_after_current()

    def halt(self, reason: str, exit_code: int = 1) -> None:
        """Stop the whole system, in order, and make the process exit with ``exit_code``.

        What ``sys.exit()`` would mean in a script; in an actor, ``sys.exit()``
        is only a crash of this actor.
        """
        self._halt(f"{self.path}: {reason}", exit_code)

    def defer(self) -> Reply:
        """Answer the current message later instead of with ``receive``'s return value.

        Call from ``receive``; resolve or reject the returned slot when the
        answer is known (after a group commit, say). A slot left pending when
        the incarnation ends is rejected with :class:`ReplyAbandoned` so the
        asker does not wait out its timeout. For a ``tell`` the slot is
        inert: answering it does nothing.
        """
        return self._live_cell().defer_current()

    def close_at_end(self, close: Callable[[], Awaitable[None]]) -> None:
        """Await ``close()`` when this incarnation ends, stopped or crashed.

        For what is built on the actor's behalf and lives as long as it (the
        HTTP clients of an app a listener serves): its nursery is cancelled
        after ``stopping()``, and ``close`` runs then, shielded.
        """

        async def hold() -> None:
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    await close()

        self.nursery.start_soon(hold)


class Actor(Generic[M]):
    """Owns its state and handles one message at a time.

    Subclasses implement :meth:`receive`; its return value is the reply to an
    ``ask`` (ignored for a ``tell``). An exception from ``receive`` crashes
    the actor, and its supervisor decides what happens next, except for the
    types listed in ``reply_errors``: those are expected outcomes, sent back
    to the asker without a crash (and logged for a tell).
    """

    #: Exceptions that are answers, not crashes.
    reply_errors: ClassVar[tuple[type[Exception], ...]] = ()

    context: ActorContext

    async def started(self) -> None:
        """Called before the first message. Raising here is a failed start."""

    async def receive(self, message: M) -> Any:
        """Handle one message; the return value answers an ask."""
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(message).__name__}")

    async def drained(self) -> None:
        """Called when the mailbox has just been emptied, before waiting for more.

        Where batching actors act on what they gathered (one commit for many
        messages). Not called again until more messages were handled.
        """

    async def stopping(self) -> None:
        """Called when the incarnation ends, after a normal stop or a crash.

        Not called when the actor is cancelled past its shutdown timeout. After
        a crash the state may be inconsistent; errors raised here are logged.
        """

    def inspect(self) -> dict[str, Any]:
        """Actor-specific state for operators (admin ``/actors/{path}``).

        Must not block, and must not include secrets.
        """
        return {}
