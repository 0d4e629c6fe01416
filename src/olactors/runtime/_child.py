"""What every supervised child shares: incarnations, exits, stopping with a timeout."""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import msgspec
import trio

from ._clock import Clock
from ._crash import is_crash
from ._errors import ActorNotFound, ChildStartFailed
from ._snapshot import ErrorInfo, Snapshot, Status, unwrap_group
from ._spec import ChildSpec

log = logging.getLogger("olactors.runtime")

#: Restarts without an incarnation staying up ``reset_after_s`` from which a
#: child counts as crash-looping (shown in snapshots, failing readiness). A
#: poison message's redeliveries count once, so it alone never reaches this.
CRASH_LOOP_TRIES = 3


class ExitKind(StrEnum):
    NORMAL = "normal"  #: returned: the actor stopped itself, or drained on request
    CRASH = "crash"  #: raised
    KILLED = "killed"  #: cancelled after its shutdown timeout


class ChildExited(msgspec.Struct, frozen=True):
    """A child's incarnation ended without its supervisor asking for it."""

    child: Any
    incarnation: int
    kind: ExitKind
    error: BaseException | None
    #: False when the crash repeats one already counted: the same message,
    #: redelivered, crashed the new incarnation too. A message's crashes in a
    #: row are one failure toward intensity (bounded by ``max_message_crashes``),
    #: so one bad message cannot make a supervisor escalate on its own.
    counts: bool = True
    #: How long the incarnation ran once started (0 if it never started).
    ran_s: float = 0.0


class Child(ABC):
    """A supervised thing (an actor cell or a supervisor) and its life so far.

    The object lives as long as its place in the tree; each start runs one
    *incarnation* in its supervisor's nursery. Counters, the last error and
    the mailbox belong to the object, so they survive restarts.
    """

    kind: str

    def __init__(self, spec: ChildSpec, path: str, clock: Clock) -> None:
        self.spec: ChildSpec = spec
        self.clock = clock
        self.name = spec.name
        self.path = path
        self.status = Status.STOPPED
        self.restarts_total = 0
        #: Restarts since the child was last stable (see ``Backoff.reset_after_s``).
        self.tries = 0
        #: The parent's ``Backoff.reset_after_s``: how long up makes the child stable.
        self.reset_after_s = 30.0
        self.restart_times: deque[float] = deque()
        #: The parent's intensity period: what "restarts in window" means here.
        self.window_s = 5.0
        self.last_error: ErrorInfo | None = None
        self.last_exit: ChildExited | None = None
        self.started_at: float | None = None
        self.incarnation = 0
        self._scope: trio.CancelScope | None = None
        self._done: trio.Event | None = None
        self._stop_requested = False
        #: The newest incarnation whose end the supervisor has dealt with: an
        #: exit report from it or an older one is stale and ignored.
        self.settled = 0

    @property
    def running(self) -> bool:
        """True from the start of an incarnation until it has fully ended."""
        return self._done is not None and not self._done.is_set()

    def note_restart(self, now: float) -> int:
        """Count a restart; return how many fall in the current window."""
        self.restarts_total += 1
        self.restart_times.append(now)
        return self.restarts_in_window(now)

    def restarts_in_window(self, now: float) -> int:
        start = now - self.window_s
        while self.restart_times and self.restart_times[0] < start:
            self.restart_times.popleft()
        return len(self.restart_times)

    def restarts_since_stable(self, now: float) -> int:
        """Restarts since it last stayed up ``reset_after_s``; 0 once this incarnation has."""
        uptime = self.uptime(now)
        if uptime is not None and uptime >= self.reset_after_s:
            return 0
        return self.tries

    def crash_looping(self, now: float) -> bool:
        """Restarted again and again without staying up: an operator should look."""
        return self.restarts_since_stable(now) >= CRASH_LOOP_TRIES

    def uptime(self, now: float) -> float | None:
        return None if self.started_at is None else now - self.started_at

    async def run_incarnation(
        self,
        exits: trio.MemorySendChannel[Any] | None,
        *,
        initial: bool,
        task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run one incarnation; meant for ``nursery.start``.

        ``started(True)`` is reported once the child is up, ``started(False)``
        if it failed to start. When ``initial`` is true a start failure is
        raised instead (as :class:`ChildStartFailed`), so that a tree that
        cannot start fails its caller, as in OTP. An end the supervisor did
        not ask for is posted to ``exits``; it never raises for a crash.
        """
        self.incarnation += 1
        incarnation = self.incarnation
        done = trio.Event()
        self._done = done
        self._stop_requested = False
        self.status = Status.STARTING
        started = False

        def mark_started() -> None:
            nonlocal started
            started = True
            self.status = Status.RUNNING
            self.started_at = trio.current_time()
            task_status.started(True)

        kind = ExitKind.NORMAL
        error: BaseException | None = None
        try:
            try:
                with trio.CancelScope() as scope:
                    self._scope = scope
                    await self._run(mark_started)
            except BaseException as exc:
                # Also what is left of a group once the scope has taken its own
                # Cancelled out: an error raised while being cancelled is a crash.
                # Any crash is the child's, whatever its type (SystemExit too).
                if not is_crash(exc):
                    raise
                kind, error = ExitKind.CRASH, exc
            else:
                if scope.cancelled_caught:
                    kind = ExitKind.KILLED
        finally:
            self._scope = None
            ran_s = 0.0 if self.started_at is None else trio.current_time() - self.started_at
            self.started_at = None
            self.status = Status.STOPPED
            done.set()
        if error is not None and not started and initial:
            if isinstance(error, ChildStartFailed):
                raise error  # a descendant's: it already names who failed and why
            raise ChildStartFailed(self.path, unwrap_group(error)) from error
        if error is not None:
            self.last_error = ErrorInfo.from_exception(error, at=self.clock())
            log.error(
                "%s %s crashed%s: %s: %s",
                self.kind,
                self.path,
                "" if started else " while starting",
                type(unwrap_group(error)).__name__,
                unwrap_group(error),
                exc_info=error,
                extra={"actor": self.path},
            )
        exited = ChildExited(
            self,
            incarnation,
            kind,
            error,
            counts=error is None or not self.crash_repeated(),
            ran_s=ran_s,
        )
        self.last_exit = exited
        if not started:
            task_status.started(False)
        if exits is not None and not self._stop_requested:
            exits.send_nowait(exited)

    async def stop(self, *, drain: bool) -> None:
        """Ask the running incarnation to end, and wait until it has.

        With ``drain`` an actor first handles what its mailbox holds; without,
        it ends after the message in hand. Past ``shutdown_timeout_s`` it is
        cancelled. Returns at once if nothing is running.
        """
        # Whatever this incarnation reported, or will, the stop decides its fate.
        self.settled = self.incarnation
        done = self._done
        if done is None or done.is_set():
            return
        self._stop_requested = True
        self.status = Status.STOPPING
        self._request_stop(drain)
        timeout = self.spec.shutdown_timeout_s
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await done.wait()
        if not done.is_set():
            log.warning(
                "%s did not stop within %s s: cancelling it",
                self.path,
                timeout,
                extra={"actor": self.path},
            )
            if self._scope is not None:
                self._scope.cancel()
            await done.wait()

    def crash_repeated(self) -> bool:
        """True if the incarnation that just crashed did so on a message that crashed before."""
        return False

    def inject_crash(self, reason: str) -> bool:
        """Crash the running incarnation on purpose (see ``ActorCell.inject_crash``).

        Only actors take one: a supervisor fails through its children.
        """
        raise ActorNotFound(f"{self.path} (a supervisor, not an actor)")

    @abstractmethod
    async def _run(self, mark_started: Callable[[], None]) -> None:
        """The incarnation's body; calls ``mark_started`` once it is up."""

    @abstractmethod
    def _request_stop(self, drain: bool) -> None:
        """Tell the running incarnation to wind down (see :meth:`stop`)."""

    @abstractmethod
    def close(self) -> None:
        """The child is gone for good: refuse messages, dead-letter what is queued."""

    @abstractmethod
    def reopen(self) -> None:
        """Undo :meth:`close` before a stopped child is started again."""

    @abstractmethod
    def snapshot(self, now: float) -> Snapshot: ...

    @abstractmethod
    def handle(self) -> Any:
        """The public handle: an ``ActorRef`` or a ``SupervisorRef``."""
