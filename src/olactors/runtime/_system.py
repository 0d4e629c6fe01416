"""The actor system: a supervision tree, its registry, its clock and its dropped messages."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trio

from ._child import ExitKind
from ._clock import Clock
from ._control import SupervisorRef
from ._dropped import DroppedMessages
from ._errors import ActorNotFound, ChildStartFailed, SystemHalted, TopLevelFailure
from ._ref import ActorRef
from ._registry import Registry
from ._services import SystemServices
from ._snapshot import ActorSnapshot, Snapshot, SupervisorSnapshot, unwrap_group
from ._spec import SupervisorSpec
from ._supervisor import Supervisor
from ._timer import AskTimer

log = logging.getLogger("olactors.runtime")


class ActorSystem:
    """A tree of supervised actors under one root supervisor.

    Build it from a :class:`SupervisorSpec`, then ``await nursery.start(system.run)``:
    the whole tree runs inside that call, so it lives in the caller's nursery
    and nothing outlives it. Paths start with the root's name: ``/root/...``.
    """

    def __init__(
        self,
        root: SupervisorSpec,
        *,
        dropped: DroppedMessages | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.registry = Registry()
        self.clock = clock
        self.dropped = dropped if dropped is not None else DroppedMessages(clock=clock)
        self._timer = AskTimer()
        self._halted: SystemHalted | None = None
        services = SystemServices(self.registry, self.dropped, self._timer, self.halt, clock)
        with _collector_paused():  # the tree is long-lived: see _StartWithoutCollecting
            self._root = Supervisor(root, "/" + root.name, services)
        self.registry.register(self._root)
        self._scope: trio.CancelScope | None = None
        self._ran = False
        #: True once ``force_stop`` cut a shutdown short.
        self.forced = False
        #: Set once an orderly stop was asked for (``shutdown`` or ``halt``),
        #: so a watchdog can bound how long it takes.
        self.stop_requested = trio.Event()

    @property
    def root(self) -> SupervisorRef:
        return self._root.handle()

    def actor_ref(self, path: str) -> ActorRef[Any]:
        """The ref of the actor at ``path``; :class:`ActorNotFound` if none, or a supervisor."""
        handle = self.registry.handle(path)
        if not isinstance(handle, ActorRef):
            raise ActorNotFound(f"{path} (a supervisor, not an actor)")
        return handle

    def supervisor(self, path: str) -> SupervisorRef:
        """The handle of the supervisor at ``path``; :class:`ActorNotFound` if none."""
        handle = self.registry.handle(path)
        if not isinstance(handle, SupervisorRef):
            raise ActorNotFound(f"{path} (an actor, not a supervisor)")
        return handle

    def snapshot(self, path: str | None = None) -> Snapshot:
        """The tree from ``path`` (default: the root) as it is now. Never blocks."""
        child = self._root if path is None else self.registry.get(path)
        return child.snapshot(trio.current_time())

    def actor_snapshot(self, path: str) -> ActorSnapshot:
        """The actor at ``path`` as it is now; :class:`ActorNotFound` if none, or a supervisor."""
        snapshot = self.snapshot(path)
        if not isinstance(snapshot, ActorSnapshot):
            raise ActorNotFound(f"{path} (a supervisor, not an actor)")
        return snapshot

    def tree(self) -> SupervisorSnapshot:
        return self._root.snapshot(trio.current_time())

    async def restart(self, path: str) -> None:
        """Restart the child at ``path`` by hand (see ``SupervisorRef.restart_child``)."""
        self.registry.get(path)
        parent, _, name = path.rstrip("/").rpartition("/")
        if not parent:
            raise ActorNotFound(f"{path} (the root has no supervisor to restart it)")
        await self.supervisor(parent).restart_child(name)

    def inject_crash(self, path: str, reason: str = "injected") -> bool:
        """Crash the actor at ``path`` on purpose, through its supervisor's ordinary crash path.

        For fault injection (the ``[chaos]`` hook and tests); nothing else in
        the daemon calls it. The crash is raised in the actor's own nursery
        soon after this returns (see ``ActorCell.inject_crash``): counted
        toward its supervisor's intensity, restarted by its strategy, logged
        and shown in its snapshot's ``last_error`` as an :class:`InjectedCrash`.
        Returns False if the actor is not running (starting, restarting,
        stopping or stopped). Raises :class:`ActorNotFound` for an unknown
        path or a supervisor's. Never blocks.
        """
        return self.registry.get(path).inject_crash(reason)

    async def run(self, *, task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the tree, report started once every child is up, and supervise until shutdown.

        Raises :class:`ChildStartFailed` if the tree cannot start,
        :class:`TopLevelFailure` when the root supervisor exceeds its restart
        intensity, and :class:`SystemHalted` after :meth:`halt`. In every
        case, and after :meth:`shutdown`, every mailbox is closed when it
        returns, and what was left in them is dead-lettered.
        A system runs once.
        """
        if self._ran:
            raise RuntimeError("an ActorSystem runs once; build a new one")
        self._ran = True
        failed_start: ChildStartFailed | None = None
        starting = _StartWithoutCollecting(task_status)
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as services:
                    await services.start(self._timer.run)
                    try:
                        await self._root.run_incarnation(None, initial=True, task_status=starting)
                    except ChildStartFailed as exc:
                        failed_start = exc  # raised below, not wrapped in a group
                    services.cancel_scope.cancel()
            self.forced = scope.cancelled_caught
        finally:
            starting.done()
            gc.unfreeze()  # what the tree was is garbage now; let it be collected
            self._scope = None
            self._root.close()
        if failed_start is not None:
            raise failed_start
        if self._halted is not None:
            raise self._halted
        exited = self._root.last_exit
        if exited is not None and exited.kind is ExitKind.CRASH and exited.error is not None:
            cause = unwrap_group(exited.error)
            log.critical(
                "top-level supervisor %s gave up (%s: %s); stopping",
                self._root.path,
                type(cause).__name__,
                cause,
            )
            raise TopLevelFailure(cause) from exited.error

    def shutdown(self) -> None:
        """Begin an orderly shutdown; returns at once.

        Children stop in reverse start order, each draining its mailbox for
        up to its shutdown timeout and then cancelled; ``run`` returns when
        the last one has stopped.
        """
        self.stop_requested.set()
        if self._scope is not None:
            self._root.post_stop()

    def halt(self, reason: str, exit_code: int = 1) -> None:
        """Stop the whole system on purpose: an orderly shutdown, then ``run`` raises
        :class:`SystemHalted` with ``exit_code``. Returns at once.

        For code that really means to end the process (``sys.exit()`` in an
        actor is a crash, handled by its supervisor). The first halt wins.
        """
        if not 0 <= exit_code <= 255:
            raise ValueError(f"an exit code is 0..255, not {exit_code}")
        if self._halted is None:
            log.critical("halt requested (exit %d): %s", exit_code, reason)
            self._halted = SystemHalted(reason, exit_code)
        self.shutdown()

    def force_stop(self) -> None:
        """Cancel everything now (a second Ctrl-C); ``run`` returns promptly."""
        if self._scope is not None:
            self._scope.cancel()


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _StartWithoutCollecting:
    """Pauses the cyclic garbage collector while the tree starts, then freezes what was built.

    Starting a tree allocates tens of objects per actor, all long-lived. A
    full collection walks every tracked object and the heap's growth triggers
    several, so with 10,000 children they cost four times the start itself.
    Once up, the tree lives as long as the process: ``gc.freeze()`` moves it
    out of every later collection's way (the pattern CPython documents for
    long-lived start-up state), which also keeps those pauses short; ``run``
    unfreezes once the system has stopped.
    """

    def __init__(self, task_status: trio.TaskStatus[bool]) -> None:
        self._task_status = task_status
        self._was_enabled = gc.isenabled()
        self._pending = True
        gc.disable()

    def started(self, value: bool = True) -> None:
        if self._pending:
            # No collection first: a start leaves no cyclic garbage to speak
            # of (a young-generation pass over a 10,000-child start found
            # none, at a third of the start's time), and whatever it did
            # leave is released with the rest at unfreeze().
            gc.freeze()
        self.done()
        self._task_status.started(value)

    def done(self) -> None:
        if self._pending:
            self._pending = False
            if self._was_enabled:
                gc.enable()
