"""Supervisors with Erlang/OTP semantics: strategies, restart types, intensity."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
import trio

from ._cell import ActorCell
from ._child import Child, ChildExited, ExitKind
from ._control import (
    Command,
    RemoveChild,
    RestartChild,
    StartChild,
    StopSupervisor,
    SupervisorRef,
)
from ._errors import (
    ActorNotFound,
    ActorStopped,
    ChildStartFailed,
    DuplicateChild,
    RestartIntensityExceeded,
    RestartsExhausted,
)
from ._reply import Reply
from ._services import SystemServices
from ._snapshot import Status, SupervisorSnapshot, unwrap_group
from ._spec import ChildSpec, Restart, Strategy, SupervisorSpec

log = logging.getLogger("olactors.runtime")


class _Escalate(msgspec.Struct, frozen=True):
    error: RestartIntensityExceeded | RestartsExhausted


class Supervisor(Child):
    """Starts its children in order, restarts them by its strategy, gives up past its intensity.

    Everything a supervisor decides happens in one loop that takes one
    command at a time from its control channel: child exits, dynamic child
    changes and stop requests. That loop is the only code that starts or
    stops its children, so decisions never interleave.

    A restart waits for the backoff delay without blocking the loop: the
    child is marked due, and the loop starts due children when their time
    comes (commands first, so a crash during a group restart is seen before
    the rest of the group starts).
    """

    kind = "supervisor"

    def __init__(
        self,
        spec: SupervisorSpec,
        path: str,
        services: SystemServices,
    ) -> None:
        super().__init__(spec, path, services.clock)
        self.sup_spec = spec
        self._services = services
        self._registry = services.registry
        #: By name, in start order (a dict keeps insertion order): lookups,
        #: adds and removals stay O(1) however many children there are.
        self.children: dict[str, Child] = {}
        #: Children added while a restart was pending, and the callers waiting
        #: for them: they start after their elder siblings, as OTP would.
        self._waiting_starts: dict[Child, Reply] = {}
        self._control_send, self._control_recv = trio.open_memory_channel[Command](math.inf)
        self._restart_times: deque[float] = deque()
        self._due: dict[Child, float] = {}
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._handle = SupervisorRef(self.path, self.post, self.child_names)
        for child_spec in spec.children:
            self._add(child_spec)

    # -- building the tree ----------------------------------------------------

    def _add(self, spec: ChildSpec) -> Child:
        if spec.name in self.children:
            raise DuplicateChild(f"{self.path}/{spec.name}")
        path = f"{self.path}/{spec.name}"
        child: Child
        if isinstance(spec, SupervisorSpec):
            child = Supervisor(spec, path, self._services)
        else:
            child = ActorCell(spec, path, self._services)
        child.window_s = self.sup_spec.within_s
        child.reset_after_s = self.sup_spec.backoff.reset_after_s
        self._registry.register(child)
        self.children[spec.name] = child
        return child

    def _discard(self, child: Child) -> None:
        """Remove a child for good: close it and forget it and its descendants."""
        del self.children[child.name]
        self._due.pop(child, None)
        waiting = self._waiting_starts.pop(child, None)
        if waiting is not None:
            waiting.reject(ActorStopped(child.path))
        child.close()
        for path in _paths(child):
            self._registry.unregister(path)

    def _find(self, name: str) -> Child:
        child = self.children.get(name)
        if child is None:
            raise ActorNotFound(f"{self.path}/{name}")
        return child

    # -- incarnation -------------------------------------------------------------

    async def _run(self, mark_started: Callable[[], None]) -> None:
        # A new incarnation starts with a fresh intensity window, as a restarted
        # OTP supervisor process does.
        self._restart_times.clear()
        self._due.clear()
        for child in self.children.values():
            child.tries = 0  # a fresh incarnation: its children start a fresh count too
        self._drop_stale_commands()
        failure: BaseException | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                failure = await self._start_all()
                if failure is None:
                    mark_started()
                    failure = await self._supervise()
            finally:
                self._nursery = None
        if failure is not None:
            raise failure

    def _drop_stale_commands(self) -> None:
        """Drop exits and stop requests addressed to an earlier incarnation.

        Before the first incarnation nothing is stale: a stop requested while
        the tree was still starting (a SIGTERM during start-up) must hold.
        """
        if self.incarnation == 1:
            return
        keep: list[Command] = []
        while True:
            try:
                command = self._control_recv.receive_nowait()
            except trio.WouldBlock:
                break
            if not isinstance(command, ChildExited | StopSupervisor):
                keep.append(command)
        for command in keep:
            self._control_send.send_nowait(command)

    async def _start(self, child: Child, *, initial: bool) -> bool:
        assert self._nursery is not None
        child.reopen()
        started: bool = await self._nursery.start(
            partial(child.run_incarnation, self._control_send, initial=initial)
        )
        return started

    async def _start_all(self) -> ChildStartFailed | None:
        """Start every child in order; on a failure stop the started ones, in reverse."""
        for child in list(self.children.values()):
            try:
                await self._start(child, initial=True)
            except ChildStartFailed as exc:
                await self._stop_all(drain=False)
                return exc
        # Children added while an earlier incarnation waited out a backoff
        # started with all the others: their callers get their handles now.
        waiting, self._waiting_starts = self._waiting_starts, {}
        for child, reply in waiting.items():
            reply.resolve(child.handle())
        return None

    async def _stop_all(self, *, drain: bool) -> None:
        self._due.clear()
        self._reject_waiting_starts()
        for child in reversed(list(self.children.values())):
            await child.stop(drain=drain)
            child.status = Status.STOPPED

    async def _supervise(self) -> RestartIntensityExceeded | RestartsExhausted | None:
        """The decision loop. Returns None after an orderly stop, or the escalation."""
        while True:
            try:
                command: Command | None = self._control_recv.receive_nowait()
            except trio.WouldBlock:
                command = None
                with trio.move_on_at(min(self._due.values(), default=math.inf)):
                    command = await self._control_recv.receive()
            if command is not None:
                finished = await self._dispatch(command)
                if isinstance(finished, _Escalate):
                    return finished.error
                if finished:
                    return None
            await self._start_due()

    async def _start_due(self) -> None:
        if not self._due:
            return
        now = trio.current_time()
        for child in list(self.children.values()):
            due = self._due.get(child)
            if due is None or due > now:
                continue
            del self._due[child]
            waiting = self._waiting_starts.pop(child, None)
            if waiting is not None:
                # A start_child that waited for its elder siblings: it answers
                # as a start, and a failure removes the child again.
                try:
                    waiting.resolve(await self._start_child_now(child))
                except ChildStartFailed as exc:
                    waiting.reject(exc)
                continue
            if not await self._start(child, initial=False):
                # Its crash is queued; let the strategy see it before the rest starts.
                return

    def _reject_waiting_starts(self) -> None:
        waiting, self._waiting_starts = self._waiting_starts, {}
        for child, reply in waiting.items():
            reply.reject(ActorStopped(child.path))
            self._discard(child)

    # -- commands ------------------------------------------------------------

    async def _dispatch(self, command: Command) -> bool | _Escalate:
        if isinstance(command, ChildExited):
            escalation = await self._child_exited(command)
            return escalation if escalation is not None else False
        if isinstance(command, StopSupervisor):
            await self._stop_all(drain=command.drain)
            return True
        reply = command.reply
        queued = False
        try:
            if isinstance(command, StartChild):
                child = self._add_child(command.spec, reply)
                if child is None:
                    queued = True  # behind a pending restart: answered when started
                else:
                    reply.resolve(await self._start_child_now(child))
            elif isinstance(command, RemoveChild):
                child = self._find(command.name)
                await child.stop(drain=True)
                self._discard(child)
                reply.resolve(None)
            else:
                child = self._find(command.name)
                self._due.pop(child, None)
                # A child still waiting for its first start is started now, by hand.
                self._waiting_starts.pop(child, Reply()).resolve(child.handle())
                await child.stop(drain=False)
                child.restarts_total += 1
                child.tries = 0  # an operator's restart is a fresh start
                log.info("%s restarted on request", child.path, extra={"actor": child.path})
                if await self._start(child, initial=False):
                    reply.resolve(None)
                else:
                    # As OTP's restart_child: the failure goes to the operator and
                    # the child stays stopped; supervision does not retry it.
                    child.settled = child.incarnation
                    exited = child.last_exit
                    assert exited is not None
                    assert exited.error is not None
                    reply.reject(ChildStartFailed(child.path, unwrap_group(exited.error)))
        except (ActorNotFound, DuplicateChild, ChildStartFailed) as exc:
            reply.reject(exc)
        finally:
            # Cancelled half-way (a forced stop): the caller must not wait forever.
            if reply.pending and not queued:
                reply.reject(ActorStopped(self.path))
        return False

    def _add_child(self, spec: ChildSpec, reply: Reply) -> Child | None:
        """Add a child; return it to start now, or None if it waits for a pending restart.

        While siblings wait out a group restart's backoff (one_for_all,
        rest_for_one), a new child (always the youngest) joins the queue
        behind them rather than starting before its elders: ``reply`` is
        answered when its turn comes.
        """
        child = self._add(spec)
        # Under one_for_one no sibling's restart concerns it: it starts now.
        if self._due and self.sup_spec.strategy is not Strategy.ONE_FOR_ONE:
            self._due[child] = max(self._due.values())
            self._waiting_starts[child] = reply
            return None
        return child

    async def _start_child_now(self, child: Child) -> Any:
        try:
            await self._start(child, initial=True)
        except ChildStartFailed:
            self._discard(child)
            raise
        return child.handle()

    async def _child_exited(self, exited: ChildExited) -> _Escalate | None:
        child: Child = exited.child
        if self.children.get(child.name) is not child or exited.incarnation <= child.settled:
            return None  # stale: that incarnation was already stopped or dealt with
        child.settled = exited.incarnation
        restart = child.spec.restart
        if restart is Restart.TEMPORARY or (
            restart is Restart.TRANSIENT and exited.kind is ExitKind.NORMAL
        ):
            log.info(
                "%s ended (%s); %s, not restarted",
                child.path,
                exited.kind.value,
                restart.value,
                extra={"actor": child.path},
            )
            if restart is Restart.TEMPORARY:
                self._discard(child)
            else:
                child.close()
            return None

        spec = self.sup_spec
        now = trio.current_time()
        if exited.counts:
            self._restart_times.append(now)
            if exited.ran_s >= spec.backoff.reset_after_s:
                child.tries = 0  # it was stable: this crash starts a new count
            child.tries += 1
        while self._restart_times and self._restart_times[0] < now - spec.within_s:
            self._restart_times.popleft()
        if len(self._restart_times) > spec.max_restarts:
            log.error(
                "supervisor %s: more than %d restart(s) in %g s (last: %s); "
                "stopping its children and escalating",
                self.path,
                spec.max_restarts,
                spec.within_s,
                child.path,
                extra={"actor": self.path},
            )
            await self._stop_all(drain=False)
            return _Escalate(RestartIntensityExceeded(self.path, spec.max_restarts, spec.within_s))
        max_tries = spec.backoff.max_tries
        if max_tries is not None and child.tries > max_tries:
            log.error(
                "supervisor %s: %s restarted %d time(s) without staying up %g s; "
                "stopping its children and escalating",
                self.path,
                child.path,
                max_tries,
                spec.backoff.reset_after_s,
                extra={"actor": self.path},
            )
            await self._stop_all(drain=False)
            return _Escalate(
                RestartsExhausted(self.path, child.path, max_tries, spec.backoff.reset_after_s)
            )

        group = self._restart_group(child)
        for sibling in reversed(group):
            if sibling is not child:
                await sibling.stop(drain=False)
        delay = spec.backoff.delay(max(child.tries, 1))
        for member in group:
            if member is not child and member.spec.restart is Restart.TEMPORARY:
                self._discard(member)
                continue
            member.note_restart(now)
            member.status = Status.RESTARTING
            self._due[member] = now + delay
        log.info(
            "%s: restarting %s in %.3f s (%s%s)",
            self.path,
            ", ".join(m.name for m in group if m in self._due),
            delay,
            spec.strategy.value,
            "" if exited.counts else "; the same message again, not counted toward intensity",
            extra={"actor": child.path},
        )
        return None

    def _restart_group(self, child: Child) -> list[Child]:
        """The children a restart of ``child`` covers, in start order.

        As in OTP, a group restart covers every sibling in scope, including a
        transient one that had ended normally.
        """
        strategy = self.sup_spec.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            return [child]
        members = list(self.children.values())
        if strategy is Strategy.ONE_FOR_ALL:
            return members
        return members[members.index(child) :]

    # -- Child -------------------------------------------------------------------

    def _request_stop(self, drain: bool) -> None:
        self._control_send.send_nowait(StopSupervisor(drain))

    def child_names(self) -> list[str]:
        return list(self.children)

    def post_stop(self, *, drain: bool = True) -> None:
        """Ask the running incarnation to stop its children and end; returns at once."""
        self._request_stop(drain)

    def post(self, command: Command) -> None:
        if self._closed:
            raise ActorStopped(self.path)
        self._control_send.send_nowait(command)

    def close(self) -> None:
        self._closed = True
        self._reject_waiting_starts()
        for child in self.children.values():
            child.close()
        while True:
            try:
                command = self._control_recv.receive_nowait()
            except trio.WouldBlock:
                return
            if isinstance(command, StartChild | RemoveChild | RestartChild):
                command.reply.reject(ActorStopped(self.path))

    def reopen(self) -> None:
        self._closed = False
        for child in self.children.values():
            child.reopen()

    def handle(self) -> SupervisorRef:
        return self._handle

    def snapshot(self, now: float) -> SupervisorSnapshot:
        spec = self.sup_spec
        start = now - spec.within_s
        return SupervisorSnapshot(
            path=self.path,
            name=self.name,
            kind=self.kind,
            status=self.status,
            strategy=spec.strategy.value,
            max_restarts=spec.max_restarts,
            within_s=spec.within_s,
            intensity_used=sum(1 for t in self._restart_times if t >= start),
            restarts_total=self.restarts_total,
            restarts_in_window=self.restarts_in_window(now),
            restarts_since_stable=self.restarts_since_stable(now),
            crash_looping=self.crash_looping(now),
            last_error=self.last_error,
            uptime_s=self.uptime(now),
            children=[child.snapshot(now) for child in self.children.values()],
        )


def _paths(child: Child) -> list[str]:
    if isinstance(child, Supervisor):
        return [child.path, *(p for c in child.children.values() for p in _paths(c))]
    return [child.path]
