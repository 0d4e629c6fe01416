"""An actor cell: runs actor instances over one mailbox, one message at a time."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import trio

from ._actor import Actor, ActorContext
from ._child import Child
from ._crash import is_crash
from ._errors import ActorStopped, InjectedCrash, MessageDropped, ReplyAbandoned
from ._mailbox import WAKE, Envelope, Mailbox
from ._ref import ActorRef
from ._reply import Reply
from ._services import SystemServices
from ._snapshot import ActorSnapshot, RateMeter, Status, unwrap_group
from ._spec import ActorSpec

log = logging.getLogger("olactors.runtime")

#: Messages handled between forced checkpoints, so a busy actor whose
#: handlers never block still lets other tasks run.
_CHECKPOINT_EVERY = 64


class ActorCell(Child):
    """The place of one actor in the tree.

    The cell owns the mailbox, the counters and the poison-message record;
    each incarnation gets a fresh actor instance from the spec's factory.
    """

    kind = "actor"

    def __init__(self, spec: ActorSpec, path: str, services: SystemServices) -> None:
        super().__init__(spec, path, services.clock)
        self.actor_spec = spec
        self.mailbox = Mailbox(path, spec.mailbox_capacity, services.timer)
        self.ref: ActorRef[Any] = ActorRef(path, self.mailbox)
        self._registry = services.registry
        self._halt = services.halt
        self.actor: Actor[Any] | None = None
        self.actor_type = "actor"
        self.nursery: trio.Nursery | None = None
        self.handled = 0
        self._dropped = services.dropped
        self._meter: RateMeter | None = None
        self._stop_now = False
        self._drain = False
        self._idle = False
        self._current: Envelope | None = None
        self._interrupted: Envelope | None = None
        self._deferred = False
        self._outstanding: set[Reply] = set()
        self._outstanding_limit = 1024
        # The message that crashed the last incarnation, and how many times in a row.
        self._suspect: Envelope | None = None
        self._suspect_crashes = 0
        self._repeated = False

    # -- incarnation -----------------------------------------------------

    async def _run(self, mark_started: Callable[[], None]) -> None:
        self._stop_now = False
        self._drain = False
        self.actor = None
        if self._meter is None:
            self._meter = RateMeter(trio.current_time())
        # A context per incarnation, so that an instance that has ended cannot
        # steer (stop, defer, spawn into) the one that replaced it.
        context = ActorContext(self.path, self.ref, self._registry, self, self._halt, self.clock)
        actor = self.actor_spec.factory()
        if not isinstance(actor, Actor):
            raise TypeError(f"factory of {self.path} returned {actor!r}, not an Actor")
        actor.context = context
        self.actor = actor
        self.actor_type = type(actor).__name__
        error: BaseException | None = None
        up = hook_ran = False
        self._repeated = False
        self.mailbox.owner = trio.lowlevel.current_task()
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                try:
                    await actor.started()
                except BaseException as exc:
                    if not is_crash(exc):
                        raise
                    error = exc
                else:
                    up = True
                    mark_started()
                    try:
                        await self._loop(actor)
                    except BaseException as exc:
                        if not is_crash(exc):
                            raise
                        error = exc
                    hook_ran = True
                    await self._call_stopping(actor, crashed=error is not None)
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            # A background task of the actor crashed (or an orderly stopping()
            # failed): so did the actor.
            if not is_crash(exc):
                raise
            error = exc
            if up and not hook_ran:
                await self._call_stopping(actor, crashed=True)
        finally:
            self.mailbox.owner = None
            context.end()
            self.nursery = None
            self._current = None
            interrupted, self._interrupted = self._interrupted, None
            if interrupted is not None:
                self._after_failure(interrupted, error)
            self._abandon_outstanding()
        if error is not None:
            raise error

    async def _call_stopping(self, actor: Actor[Any], *, crashed: bool) -> None:
        """Run ``stopping()``, within the shutdown timeout even when nobody asked for the stop.

        After a crash nothing else bounds it: a hook that hangs would hide
        the crash from the supervisor, leaving the actor "running" and
        every ask timing out.
        """
        if crashed:
            self.status = Status.STOPPING
        limit = self.actor_spec.shutdown_timeout_s
        with trio.move_on_after(math.inf if limit is None else limit) as scope:
            try:
                await actor.stopping()
            except BaseException as exc:
                if not crashed or not is_crash(exc):
                    raise
                log.exception("%s: stopping() failed after a crash", self.path)
        if scope.cancelled_caught:
            log.warning(
                "%s: stopping() did not end within %s s; abandoned",
                self.path,
                limit,
                extra={"actor": self.path},
            )

    async def _loop(self, actor: Actor[Any]) -> None:
        mailbox = self.mailbox
        poll = mailbox.poll
        receive = actor.receive
        reply_errors = actor.reply_errors
        wants_drained = type(actor).drained is not Actor.drained
        unsampled = 0
        handled_since_drained = False
        while not self._stop_now:
            try:
                envelope = poll()
            except trio.EndOfChannel:
                return
            if envelope is None:
                # Waiting happens outside any except clause, so an idle actor
                # holds no exception (nor its traceback) while it waits.
                self._sample()
                unsampled = 0
                if wants_drained and handled_since_drained:
                    handled_since_drained = False
                    await actor.drained()
                    continue
                if self._drain:
                    return
                self._idle = True
                try:
                    envelope = await mailbox.get()
                except trio.EndOfChannel:
                    return
                finally:
                    self._idle = False
            if envelope is WAKE:
                continue
            message, reply = envelope
            self._current = envelope
            try:
                result = await receive(message)
            except reply_errors as exc:
                self._deferred = False
                if reply is not None:
                    reply.reject(exc)
                else:
                    log.warning(
                        "%s: %s: %s (told, nobody to answer)",
                        self.path,
                        type(exc).__name__,
                        exc,
                        extra={"actor": self.path},
                    )
            except BaseException:
                # Crashed or cancelled in hand: settled once the incarnation has
                # ended and it is known which (a background task may be the cause).
                self._current = None
                self._deferred = False
                self._interrupted = envelope
                raise
            else:
                if self._deferred:
                    self._deferred = False
                elif reply is not None:
                    reply.resolve(result)
            self._current = None
            if self._suspect is envelope:
                self._suspect = None
            self.handled += 1
            handled_since_drained = True
            unsampled += 1
            if unsampled >= _CHECKPOINT_EVERY:
                unsampled = 0
                self._sample()
                await trio.lowlevel.checkpoint()

    def _after_failure(self, envelope: Envelope, crash: BaseException | None) -> None:
        """The incarnation ended with ``envelope`` in hand: retry it first, or give up on it.

        ``crash`` is what crashed the actor, or None if it was cancelled (which
        does not count against the message).
        """
        reply = envelope[1]
        if reply is not None:
            self._outstanding.discard(reply)
        if crash is not None:
            crash = unwrap_group(crash)
            crashes = self._suspect_crashes + 1 if self._suspect is envelope else 1
            self._repeated = crashes > 1
            if crashes >= self.actor_spec.max_message_crashes:
                self._suspect = None
                self._dead_letter(envelope, "poison", crashes, crash)
                return
            self._suspect, self._suspect_crashes = envelope, crashes
        self.mailbox.redelivery.appendleft(envelope)

    def crash_repeated(self) -> bool:
        return self._repeated

    def _dead_letter(
        self, envelope: Envelope, reason: str, crashes: int, error: BaseException | None
    ) -> None:
        message, reply = envelope
        self._dropped.publish(self.path, message, reason=reason, crashes=crashes, error=error)
        if reply is not None:
            if error is not None:
                reply.reject(MessageDropped(self.path, crashes, error))
            else:
                reply.reject(ActorStopped(self.path))

    def _sample(self) -> None:
        if self._meter is not None:
            self._meter.observe(trio.current_time(), self.handled)

    def _abandon_outstanding(self) -> None:
        for reply in self._outstanding:
            reply.reject(ReplyAbandoned(self.path))
        self._outstanding.clear()

    # -- what the context may ask -----------------------------------------

    def stop_after_current(self) -> None:
        self._stop_now = True
        self._wake()

    def _wake(self) -> None:
        if self._idle:
            self._idle = False
            self.mailbox.wake()

    def defer_current(self) -> Reply:
        envelope = self._current
        if envelope is None:
            raise RuntimeError("defer() answers the message being received; call it in receive()")
        self._deferred = True
        reply = envelope[1]
        if reply is None:
            return Reply()  # a tell: nobody waits, answering is a no-op
        outstanding = self._outstanding
        outstanding.add(reply)
        if len(outstanding) > self._outstanding_limit:
            # Answered slots need no tracking; keep the set from growing forever.
            self._outstanding = outstanding = {r for r in outstanding if r.pending}
            self._outstanding_limit = max(1024, 2 * len(outstanding))
        return reply

    def inject_crash(self, reason: str) -> bool:
        """Crash the running incarnation as soon as the scheduler runs again; True if it will.

        The :class:`InjectedCrash` is raised by a task started in the
        incarnation's own nursery: the actor's task is cancelled wherever it
        waits, the message in hand (if any) is settled as any crash's is (see
        ``_after_failure``), ``stopping()`` runs, and the supervisor restarts
        it by its strategy, counted toward intensity. False, and nothing
        happens, while no incarnation is running (starting, stopping,
        restarting, stopped); an incarnation that ends before the crash is
        raised ends as it would have. Never blocks.
        """
        nursery = self.nursery
        if nursery is None or self.status is not Status.RUNNING:
            return False
        nursery.start_soon(_crash, InjectedCrash(self.path, reason), name=f"{self.path} crash")
        return True

    # -- Child -----------------------------------------------------------

    def _request_stop(self, drain: bool) -> None:
        if drain:
            self._drain = True
            self._wake()
        else:
            self.stop_after_current()

    def close(self) -> None:
        for envelope in self.mailbox.close():
            self._dead_letter(envelope, "stopped", 0, None)
        self._suspect = None

    def reopen(self) -> None:
        self.mailbox.reopen()

    def handle(self) -> ActorRef[Any]:
        return self.ref

    def snapshot(self, now: float) -> ActorSnapshot:
        state: dict[str, Any] = {}
        if self.actor is not None:
            try:
                state = self.actor.inspect()
            except Exception as exc:
                state = {"inspect_error": f"{type(exc).__name__}: {exc}"}
        meter = self._meter
        return ActorSnapshot(
            path=self.path,
            name=self.name,
            kind=self.actor_type,
            status=self.status,
            mailbox_depth=self.mailbox.depth(),
            mailbox_capacity=self.mailbox.capacity,
            handled=self.handled,
            rate_per_s=round(meter.rate(now, self.handled), 3) if meter else 0.0,
            restarts_total=self.restarts_total,
            restarts_in_window=self.restarts_in_window(now),
            restarts_since_stable=self.restarts_since_stable(now),
            crash_looping=self.crash_looping(now),
            last_error=self.last_error,
            uptime_s=self.uptime(now),
            state=state,
        )


async def _crash(error: InjectedCrash) -> None:
    # An incarnation already ending (its nursery cancelled) is not crashed on
    # its way out: a normal stop stays a normal stop.
    await trio.lowlevel.checkpoint_if_cancelled()
    raise error
