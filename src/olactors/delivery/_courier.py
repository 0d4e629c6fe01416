"""The courier: one actor per destination, taking its queue's items there at least once."""

from __future__ import annotations

import logging
import math
import time
from typing import Any, ClassVar

import msgspec
import trio

from .. import metrics
from ..resilience import Breaker, BreakerState, Gcra, Permit
from ..runtime import Actor
from ..store import (
    LOG_DESTINATION,
    LOG_EVENT,
    Attempt,
    Lease,
    LeaseLost,
    Settlement,
    Store,
    StoreError,
    StoreUnavailable,
)
from ._destination import Delivered, Destination
from ._errors import AttemptFailed, AttemptRejected, DestinationGone
from ._keys import state_key
from ._route import DestinationSpec, RouteState
from ._slots import SlotPool

log = logging.getLogger("olactors.delivery")


class Wake(msgspec.Struct, frozen=True, tag=True):
    """Something was queued for this destination: claim now rather than at the next due time."""


class Pause(msgspec.Struct, frozen=True, tag=True):
    """Stop starting attempts; the queue keeps every item until :class:`Resume`."""

    reason: str = "paused by an operator"


class Resume(msgspec.Struct, frozen=True, tag=True):
    """Start again (also after a 410 disabled the destination)."""


class ResetBreaker(msgspec.Struct, frozen=True, tag=True):
    """Close the destination's breaker by hand."""


CourierMessage = Wake | Pause | Resume | ResetBreaker

#: How often a courier rereads its pause state (so a pause or resume made on
#: another replica takes effect here too, without a read per item), and the
#: longest it sleeps idle when no wake-up comes.
STATE_REFRESH_S = 5.0

_BREAKER_LEVEL = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

#: A wait longer than this for the rate limit gives the item back instead
#: of sleeping with its lease.
_LONGEST_RATE_WAIT_S = 1.0


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_cancellation(e) for e in exc.exceptions)
    return False


class Courier(Actor[CourierMessage]):
    """Claims its destination's items in batches and delivers them, up to ``max_in_flight``
    at once, within its source's shared slots.

    Every attempt ends in a settlement (ack, nack on the schedule, bury past
    it, or release untried), queued and written in batches by a settler task:
    many attempts share one commit. The breaker and the rate limit are this
    actor's own (no round trip per item): while the breaker is open nothing
    is claimed, and an item refused by it is given back without spending an
    attempt. A paused or disabled destination claims nothing; its queue
    keeps everything. Anything an attempt raises, ``BaseException``
    included (trio's cancellation excepted), is a failed attempt.

    Stopping stops claiming, lets attempts in progress finish for up to
    ``drain_s``, cancels the rest and gives back every lease it did not
    settle (no attempt spent), so a restart delivers at once and nothing twice.
    """

    reply_errors: ClassVar[tuple[type[Exception], ...]] = (StoreError,)

    def __init__(
        self,
        spec: DestinationSpec,
        store_path: str,
        shared: SlotPool,
        *,
        drain_s: float = 10.0,
        refresh_s: float = STATE_REFRESH_S,
    ) -> None:
        self.spec = spec
        self.refresh_s = refresh_s
        self.store_path = store_path
        self.shared = shared
        self.drain_s = drain_s
        self.own = SlotPool(spec.max_in_flight)
        self.state = RouteState()
        self.breaker = Breaker(spec.breaker, self._breaker_moved)
        self.gcra = Gcra(spec.rate_per_s, spec.burst) if spec.rate_per_s else None
        self.delivered = self.retried = self.dead = self.released = 0
        self.claims = 0
        self.last_error: str | None = None
        #: The destination's last answer as this courier saw it (what an
        #: operator asks first: what did it say, and when).
        self.last_answer: Attempt | None = None
        #: When the current run of failed attempts began; None while it answers.
        self.failing_since: float | None = None
        self._store: Store | None = None
        self._destination: Destination | None = None
        self._changed = trio.Event()
        self._closing = False
        self._holding: dict[str, Lease] = {}
        self._outbox: list[Settlement] = []
        self._outbox_ready = trio.Event()
        self._writing = 0
        self._written = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._attempts: trio.CancelScope | None = None
        self._state_read_at = -math.inf
        self._state_version = 0

    # -- life -------------------------------------------------------------------

    async def started(self) -> None:
        self._store = Store.at(self.context, self.store_path)
        self._destination = self.spec.make(self.context)
        self.context.nursery.start_soon(self._settler)
        self.context.nursery.start_soon(self._work)

    async def receive(self, message: CourierMessage) -> RouteState | None:
        if isinstance(message, Wake):
            self._poke()
            return None
        if isinstance(message, ResetBreaker):
            self.breaker.reset(self.context.clock())
            self._poke()
            return self.state
        if isinstance(message, Pause):
            state = RouteState(paused=True, since=self.context.clock(), reason=message.reason)
        else:
            state = RouteState()
        await self._set_state(state)
        return state

    async def stopping(self) -> None:
        self._closing = True
        self._poke()
        with trio.move_on_after(self.drain_s):
            await self._idle.wait()
        if self._attempts is not None and self._holding:
            log.warning(
                "%s: %d attempt(s) still running at shutdown: cancelled, given back",
                self._name,
                len(self._holding),
            )
            self._attempts.cancel()
            await self._idle.wait()
        # Whatever is still held was never settled: give it back untried.
        for lease in list(self._holding.values()):
            self._settle(self._release(lease, 0.0))
        # Written before the nursery goes: a write cut short would be dropped.
        with trio.move_on_after(max(1.0, self.drain_s / 2)):
            while self._outbox or self._writing:
                if self._outbox:
                    await self._flush()
                else:
                    await self._written.wait()
        if self._destination is not None:
            await self._destination.aclose()

    @property
    def _name(self) -> str:
        return f"{self.spec.namespace}/{self.spec.name}"

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # -- claiming ---------------------------------------------------------------

    async def _work(self) -> None:
        async with trio.open_nursery() as attempts:
            self._attempts = attempts.cancel_scope
            await self._claim_loop(attempts)
            # Closing: the nursery waits for the attempts in progress.

    async def _claim_loop(self, attempts: trio.Nursery) -> None:
        assert self._store is not None
        spec = self.spec
        while not self._closing:
            changed = self._changed
            await self._refresh_state()
            wait_s = self._wait_before_claiming(self.context.clock())
            if wait_s > 0:
                with trio.move_on_after(wait_s):
                    await changed.wait()
                continue
            limit = 1 if self.breaker.state is BreakerState.HALF_OPEN else spec.claim_batch
            mine = await self.own.take(limit)
            ours = await self.shared.take(mine)
            self.own.give(mine - ours)
            if self._closing or self._wait_before_claiming(self.context.clock()) > 0:
                # Paused, tripped or told to stop while waiting for slots.
                self.own.give(ours)
                self.shared.give(ours)
                continue
            try:
                claimed = await self._store.claim_many(spec.queue, lease_s=spec.lease_s, limit=ours)
            except StoreUnavailable:
                self.own.give(ours)
                self.shared.give(ours)
                with trio.move_on_after(1.0):
                    await changed.wait()
                continue
            self.claims += 1
            unused = ours - len(claimed.leases)
            self.own.give(unused)
            self.shared.give(unused)
            for lease in claimed.leases:
                self._holding[lease.item.id] = lease
                self._idle = trio.Event() if self._idle.is_set() else self._idle
                attempts.start_soon(self._attempt, lease)
            if len(claimed.leases) == ours:
                continue  # a full batch: there may be more ready
            # Less than asked for: nothing else is ready now. Sleep until the
            # next item is due, or until a wake-up or a settle says otherwise.
            idle_s = self.refresh_s
            if claimed.next_due is not None:
                idle_s = min(idle_s, max(0.0, claimed.next_due - self.context.clock()))
            with trio.move_on_after(idle_s):
                await changed.wait()

    def _wait_before_claiming(self, now: float) -> float:
        if self.state.paused:
            return self.refresh_s
        if self.breaker.state is BreakerState.OPEN:
            return max(0.0, self.breaker.open_until - now)
        return 0.0

    async def _refresh_state(self) -> None:
        now = self.context.clock()
        if now - self._state_read_at < self.refresh_s:
            return
        assert self._store is not None
        version = self._state_version
        try:
            raw = await self._store.get(state_key(self.spec.namespace, self.spec.name))
        except StoreUnavailable:
            return  # keep what we know; the claim will find the store down too
        if version != self._state_version:
            return  # changed here while we read: what we read is older
        self._state_read_at = now
        state = RouteState() if raw is None else msgspec.json.decode(raw, type=RouteState)
        if state != self.state:
            log.info("%s: %s", self._name, "paused" if state.paused else "resumed")
        self.state = state

    async def _set_state(self, state: RouteState) -> None:
        assert self._store is not None
        key = state_key(self.spec.namespace, self.spec.name)
        self._state_version += 1
        self.state = state  # at once, so the claimer never claims in between
        await self._store.put(key, msgspec.json.encode(state))
        self._state_read_at = self.context.clock()
        self._poke()

    # -- one attempt -------------------------------------------------------------

    async def _attempt(self, lease: Lease) -> None:
        try:
            settlement = await self._try(lease)
        except BaseException as exc:
            if not _is_cancellation(exc):
                raise
            settlement = self._release(lease, 0.0)  # cut short by shutdown: not an attempt
            self._settle(settlement)
            raise
        finally:
            self.own.give()
            self.shared.give()
            self._holding.pop(lease.item.id, None)
            if not self._holding:
                self._idle.set()
        self._settle(settlement)

    async def _try(self, lease: Lease) -> Settlement:
        item, spec = lease.item, self.spec
        if item.attempt > spec.policy.claim_limit:
            error = (
                f"claimed {item.attempt} times without an outcome: whatever handled it "
                "died with it in hand each time"
            )
            return self._bury(lease, error, None)
        now = self.context.clock()
        permit = self.breaker.permit(now)
        if not isinstance(permit, Permit):
            attempt = Attempt(now, spec.name, "breaker_open", 0.0, error="circuit open")
            return self._release(lease, now + permit, attempt)
        if self.gcra is not None:
            _, delay = self.gcra.reserve(now)
            if delay > _LONGEST_RATE_WAIT_S:
                self.breaker.record(permit, now, failed=False, duration_s=0, abandoned=True)
                attempt = Attempt(now, spec.name, "rate_limited", 0.0, error="rate limit")
                return self._release(lease, now + delay, attempt)
            await trio.sleep(delay)
        assert self._destination is not None
        started = self.context.clock()
        failure: AttemptFailed | None = None
        delivered: Delivered | None = None
        try:
            with trio.fail_after(spec.timeout_s):
                delivered = await self._destination.deliver(item)
        except trio.TooSlowError:
            failure = AttemptFailed(f"no outcome within {spec.timeout_s:g} s", outcome="timeout")
        except AttemptFailed as exc:
            failure = exc
        except BaseException as exc:
            if _is_cancellation(exc):
                self.breaker.record(
                    permit, self.context.clock(), failed=False, duration_s=0, abandoned=True
                )
                raise
            # A destination's bug, or a handler calling sys.exit: a failed attempt.
            failure = AttemptFailed(f"{type(exc).__name__}: {exc}")
        ended = self.context.clock()
        metrics.PROCESSING_SECONDS.labels(spec.namespace).observe(ended - started)
        latency_ms = round((ended - started) * 1000, 3)
        if delivered is not None:
            self.breaker.record(permit, ended, failed=False, duration_s=ended - started)
            attempt = Attempt(
                started, spec.name, "delivered", latency_ms, delivered.status, delivered.response
            )
            self.last_answer, self.failing_since = attempt, None
            return self._ack(lease, attempt)
        assert failure is not None
        self.breaker.record(
            permit, ended, failed=failure.counts_against_breaker, duration_s=ended - started
        )
        attempt = Attempt(
            started,
            spec.name,
            failure.outcome,
            latency_ms,
            failure.status,
            failure.response,
            str(failure),
        )
        self.last_error = str(failure)
        self.last_answer = attempt
        if self.failing_since is None:
            self.failing_since = started
        if failure.status == 429 and self.gcra is not None:
            self.gcra.pause(ended + (failure.retry_after_s or 1.0))
        if isinstance(failure, DestinationGone):
            await self._disable(failure, ended)
            return self._release(lease, 0.0, attempt)
        if isinstance(failure, AttemptRejected):
            return self._bury(lease, f"rejected: {failure}", attempt)
        if spec.policy.exhausted(item.attempt):
            return self._bury(lease, f"after {item.attempt} attempts: {failure}", attempt)
        wait_s = spec.policy.retry_in(item.attempt, at_least_s=failure.retry_after_s or 0.0)
        return self._nack(lease, ended + wait_s, str(failure), attempt)

    async def _disable(self, gone: DestinationGone, now: float) -> None:
        if self.state.gone:
            return
        reason = f"{gone} at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))}"
        excerpt = gone.response[:200].decode("utf-8", "replace")
        if excerpt:
            reason += f": {excerpt}"
        log.error(
            "DESTINATION DISABLED: %s answered 410 Gone; its items are kept until it is resumed",
            self._name,
        )
        state = RouteState(paused=True, since=now, reason=reason, gone=True)
        try:
            await self._set_state(state)
        except StoreUnavailable:
            self.state = state  # at least here; the next refresh may undo it, and 410 again

    def _breaker_moved(self, was: BreakerState, to: BreakerState, why: str) -> None:
        level = logging.WARNING if to is BreakerState.OPEN else logging.INFO
        log.log(level, "%s: breaker %s -> %s (%s)", self._name, was.value, to.value, why)
        name = f"delivery:{self._name}"
        metrics.BREAKER_TRANSITIONS.labels(name, was.value, to.value).inc()
        metrics.BREAKER_STATE.labels(name).set(_BREAKER_LEVEL[to])

    # -- settling ----------------------------------------------------------------

    def _settlement(self, lease: Lease, action: str, **fields: Any) -> Settlement:
        # An item with an id of its own says which event and destination it is
        # (a broadcast's target); the others are this destination's event.
        meta = lease.item.meta
        destination = meta.get(LOG_DESTINATION, self.spec.name)
        attempt = fields.get("attempt")
        if attempt is not None and destination != attempt.destination:
            fields["attempt"] = msgspec.structs.replace(attempt, destination=destination)
        return Settlement(
            lease.item.queue,
            lease.item.id,
            lease.token,
            action,  # type: ignore[arg-type]
            namespace=self.spec.namespace,
            destination=destination,
            event=meta.get(LOG_EVENT, ""),
            **fields,
        )

    def _ack(self, lease: Lease, attempt: Attempt) -> Settlement:
        return self._settlement(lease, "ack", attempt=attempt)

    def _nack(self, lease: Lease, at: float, error: str, attempt: Attempt) -> Settlement:
        return self._settlement(lease, "nack", retry_at=at, error=error, attempt=attempt)

    def _bury(self, lease: Lease, error: str, attempt: Attempt | None) -> Settlement:
        log.error("%s: %s dead-lettered: %s", self._name, lease.item.id, error)
        return self._settlement(lease, "bury", error=error, attempt=attempt)

    def _release(self, lease: Lease, at: float, attempt: Attempt | None = None) -> Settlement:
        return self._settlement(lease, "release", retry_at=at, attempt=attempt)

    def _settle(self, settlement: Settlement) -> None:
        self._outbox.append(settlement)
        self._outbox_ready.set()

    async def _settler(self) -> None:
        """Writes queued settlements, as many per commit as have gathered meanwhile."""
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready = trio.Event()
            await self._flush()

    async def _flush(self) -> None:
        assert self._store is not None
        batch, self._outbox = self._outbox, []
        if not batch:
            return
        self._writing += 1
        try:
            outcomes = await self._store.settle(batch)
        except StoreUnavailable as exc:
            # Keep them: the leases still hold for a while, and the store backs off.
            log.warning("%s: %d settlement(s) not written yet: %s", self._name, len(batch), exc)
            self._outbox = batch + self._outbox
            self._outbox_ready.set()
            await trio.sleep(0.5)
            return
        finally:
            self._writing -= 1
            self._written.set()
            self._written = trio.Event()
        # A retry time, a given-back item or the next of an order key may now
        # be what is due first: let the claimer look again.
        self._poke()
        for settlement, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, LeaseLost):
                log.warning(
                    "%s: lease on %s was lost before its %s was written",
                    self._name,
                    settlement.id,
                    settlement.action,
                )
                continue
            # Counted once written: what inspect() shows is what the store holds.
            if settlement.action == "ack":
                self.delivered += 1
            elif settlement.action == "nack":
                self.retried += 1
                metrics.DELIVERY_RETRIES.labels(self.spec.namespace).inc()
            elif settlement.action == "bury":
                self.dead += 1
                metrics.DEAD_LETTERS.labels(self.spec.namespace).inc()
            else:
                self.released += 1

    def inspect(self) -> dict[str, Any]:
        return {
            "namespace": self.spec.namespace,
            "destination": self.spec.name,
            "queue": self.spec.queue,
            "state": msgspec.to_builtins(self.state),
            "breaker": self.breaker.state.value,
            "breaker_open_until": self.breaker.open_until
            if self.breaker.state is BreakerState.OPEN
            else None,
            "in_flight": self.own.in_use,
            "claims": self.claims,
            "max_in_flight": self.spec.max_in_flight,
            "delivered": self.delivered,
            "retried": self.retried,
            "dead_lettered": self.dead,
            "given_back": self.released,
            "last_error": self.last_error,
            "last_answer": _answer_shown(self.last_answer),
            "failing_since": self.failing_since,
        }


def _answer_shown(attempt: Attempt | None) -> dict[str, Any] | None:
    """An attempt as ``inspect()`` shows it: its outcome, status, time and an excerpt."""
    if attempt is None:
        return None
    # What the destination said, when it said something; else what went wrong.
    excerpt = attempt.response[:200].decode("utf-8", "replace") or attempt.error
    return {
        "at": attempt.at,
        "outcome": attempt.outcome,
        "status": attempt.status,
        "latency_ms": attempt.latency_ms,
        "excerpt": excerpt,
    }
