"""The circuit breaker actor: one per provider, failing fast while the provider is down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
import trio

from .. import metrics
from ..runtime import Actor, ActorRef, MailboxFull
from ._breaker_state import Breaker, BreakerSettings, BreakerState, Permit
from ._errors import CircuitOpen

log = logging.getLogger("olactors.resilience")

_STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class PermitCall(msgspec.Struct, frozen=True, tag=True):
    pass


class RecordCall(msgspec.Struct, frozen=True, tag=True):
    permit: Permit
    failed: bool
    duration_s: float
    abandoned: bool = False


class ResetBreaker(msgspec.Struct, frozen=True, tag=True):
    pass


BreakerMessage = PermitCall | RecordCall | ResetBreaker


class CircuitBreakerActor(Actor[BreakerMessage]):
    """Owns one provider's breaker; every transition is logged and counted."""

    reply_errors: ClassVar[tuple[type[Exception], ...]] = (CircuitOpen,)

    def __init__(self, provider: str, settings: BreakerSettings) -> None:
        self.provider = provider
        self.breaker = Breaker(settings, on_transition=self._moved)
        self.transitions = 0
        self.last_transition: str | None = None
        metrics.BREAKER_STATE.labels(provider).set(0)

    async def receive(self, message: BreakerMessage) -> Permit | None:
        now = trio.current_time()
        if isinstance(message, PermitCall):
            permit = self.breaker.permit(now)
            if isinstance(permit, Permit):
                return permit
            raise CircuitOpen(
                self.provider, until=self.context.clock() + permit, retry_after_s=permit
            )
        if isinstance(message, RecordCall):
            self.breaker.record(
                message.permit,
                now,
                failed=message.failed,
                duration_s=message.duration_s,
                abandoned=message.abandoned,
            )
        else:
            self.breaker.reset(now)
        return None

    def _moved(self, was: BreakerState, to: BreakerState, why: str) -> None:
        self.transitions += 1
        self.last_transition = f"{was} -> {to}: {why}"
        metrics.BREAKER_STATE.labels(self.provider).set(_STATE_VALUE[to])
        metrics.BREAKER_TRANSITIONS.labels(self.provider, was.value, to.value).inc()
        level = logging.WARNING if to is not BreakerState.CLOSED else logging.INFO
        log.log(level, "circuit %s: %s -> %s (%s)", self.provider, was, to, why)

    def inspect(self) -> dict[str, Any]:
        now = trio.current_time()
        breaker = self.breaker
        tally = breaker.tally(now)
        failure_pct, slow_pct = tally.rates()
        open_for = breaker.open_until - now if breaker.state is BreakerState.OPEN else 0.0
        return {
            "provider": self.provider,
            "state": breaker.state.value,
            "trips": breaker.trips,
            "open_for_s": round(max(0.0, open_for), 3),
            "window_calls": tally.calls,
            "window_failures": tally.failures,
            "window_slow": tally.slow,
            "failure_rate_pct": round(failure_pct, 1),
            "slow_call_rate_pct": round(slow_pct, 1),
            "transitions": self.transitions,
            "last_transition": self.last_transition,
        }


class CircuitBreaker:
    """A provider's breaker as a caller sees it."""

    def __init__(self, provider: str, ref: ActorRef[Any]) -> None:
        self.provider = provider
        self._ref = ref

    async def permit(self) -> Permit:
        """Leave to make a call, or :class:`CircuitOpen` (with until when) to fail fast."""
        permit: Permit = await self._ref.ask(PermitCall())
        return permit

    def record(
        self, permit: Permit, *, failed: bool, duration_s: float, abandoned: bool = False
    ) -> None:
        """The call's outcome: ``failed`` for its error class (network, timeout, 5xx) only;
        ``abandoned`` when it ended for a reason of ours (it then counts for nothing).

        Never blocks, so it may be called while being cancelled; with the
        breaker's mailbox full the outcome is dropped and logged.
        """
        try:
            self._ref.tell_nowait(RecordCall(permit, failed, duration_s, abandoned))
        except MailboxFull:
            log.warning("%s breaker busy: dropped a call outcome", self.provider)

    async def reset(self) -> None:
        """Close the breaker by hand (the admin's button)."""
        await self._ref.ask(ResetBreaker())


def breaker_factory(provider: str, settings: BreakerSettings) -> Callable[[], CircuitBreakerActor]:
    return lambda: CircuitBreakerActor(provider, settings)
