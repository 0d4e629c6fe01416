"""The rate limiter actor: one per provider, scheduling every call against its budget."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
import trio

from .. import metrics
from ..runtime import Actor, ActorRef, MailboxFull, Reply
from ..store import Store, StoreError
from ._errors import RateLimited
from ._gcra import Gcra
from ._hints import hint_from

log = logging.getLogger("olactors.resilience")

#: Only responses carrying one of these can change a budget; others are not sent.
_HINT_HEADERS = (
    "retry-after",
    "x-ratelimit-remaining",
    "x-app-usage",
    "x-business-use-case-usage",
)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider's budget: ``rate_per_s`` on average, ``burst`` at once.

    Past ``usage_throttle_pct`` of a usage header (Meta's), calls are spread
    out more and more, before the provider starts refusing them.
    """

    rate_per_s: float
    burst: int = 1
    usage_throttle_pct: float = 75.0


class Reserve(msgspec.Struct, frozen=True, tag=True):
    """Ask for a slot; the answer is the seconds to wait before going."""

    wait: bool = True


class Observe(msgspec.Struct, frozen=True, tag=True):
    """A provider response's status and limit headers (names in lower case)."""

    status: int
    headers: dict[str, str]


class RateLimiterActor(Actor[Reserve | Observe]):
    """Keeps one provider's GCRA budget and adjusts it to what the provider says.

    Slots are handed out, not waited for here: a caller gets the delay and
    sleeps in its own task, so one slow provider never blocks the actor.

    With ``shared_store`` (the path of a store supervisor on Redis), the
    budget is one for every replica: slots come from an atomic script on the
    Redis server's clock, and a pause a provider asks of one replica holds
    for all. Each reservation then runs in a task of the actor's own, so the
    actor never waits on the store. If the store is unavailable, the local
    budget takes over: calls stay limited per replica rather than fail.
    """

    reply_errors: ClassVar[tuple[type[Exception], ...]] = (RateLimited,)

    def __init__(self, provider: str, limit: RateLimit, shared_store: str | None = None) -> None:
        self.provider = provider
        self.limit = limit
        self.gcra = Gcra(limit.rate_per_s, limit.burst)
        self.granted = 0
        self.refused = 0
        self.last_hint: str | None = None
        #: Headers this provider sent in a form we could not use: logged once each.
        self.malformed: set[str] = set()
        self._shared_path = shared_store
        self._store: Store | None = None
        self._budget_key = f"limiter:{provider}"

    async def started(self) -> None:
        if self._shared_path is not None:
            self._store = Store.at(self.context, self._shared_path)

    async def receive(self, message: Reserve | Observe) -> float | None:
        now = trio.current_time()
        if isinstance(message, Observe):
            self._learn(message, now)
            return None
        if self._store is not None:
            self.context.nursery.start_soon(self._reserve_shared, message, self.context.defer())
            return None
        return self._reserve_local(message, now)

    def _reserve_local(self, message: Reserve, now: float) -> float:
        granted, delay = self.gcra.reserve(now, wait=message.wait)
        return self._grant(granted, delay)

    def _grant(self, granted: bool, delay: float) -> float:
        if not granted:
            self.refused += 1
            metrics.LIMITER_REFUSED.labels(self.provider).inc()
            raise RateLimited(self.provider, delay)
        self.granted += 1
        return delay

    async def _reserve_shared(self, message: Reserve, reply: Reply) -> None:
        assert self._store is not None
        now = trio.current_time()
        gcra = self.gcra
        try:
            granted, delay = await self._store.reserve(
                self._budget_key,
                interval_s=gcra.interval * gcra.slowdown(now),
                tolerance_s=gcra.tolerance,
                wait=message.wait,
            )
        except StoreError as exc:
            log.warning("%s: shared budget unavailable (%s); limiting locally", self.provider, exc)
            granted, delay = self.gcra.reserve(now, wait=message.wait)
        try:
            reply.resolve(self._grant(granted, delay))
        except RateLimited as exc:
            reply.reject(exc)

    def _malformed(self, header: str) -> None:
        if header not in self.malformed:
            self.malformed.add(header)
            log.warning(
                "%s sent a %s header we cannot use; ignoring it (logged once)",
                self.provider,
                header,
                extra={"provider": self.provider},
            )

    def _learn(self, message: Observe, now: float) -> None:
        hint = hint_from(
            message.status,
            message.headers,
            now=self.context.clock(),
            rate_per_s=self.limit.rate_per_s,
            usage_threshold_pct=self.limit.usage_throttle_pct,
            malformed=self._malformed,
        )
        if hint is None:
            return
        self.last_hint = hint.reason
        if hint.pause_s > 0:
            self.gcra.pause(now + hint.pause_s)
            if self._store is not None:
                self.context.nursery.start_soon(self._hold_shared, hint.pause_s)
            metrics.LIMITER_PAUSES.labels(self.provider, "pause").inc()
            log.warning(
                "%s asked for a pause of %.1f s (%s)", self.provider, hint.pause_s, hint.reason
            )
        if hint.slowdown > 1:
            self.gcra.slow_down(hint.slowdown, now + hint.hold_s)
            metrics.LIMITER_PAUSES.labels(self.provider, "slowdown").inc()
            log.info(
                "%s: slowing down %.1fx for %.0f s (%s)",
                self.provider,
                hint.slowdown,
                hint.hold_s,
                hint.reason,
            )

    async def _hold_shared(self, seconds: float) -> None:
        assert self._store is not None
        try:
            await self._store.hold(self._budget_key, seconds)
        except StoreError as exc:
            log.warning("%s: could not share a pause (%s)", self.provider, exc)

    def inspect(self) -> dict[str, Any]:
        now = trio.current_time()
        return {
            "provider": self.provider,
            "shared": self._shared_path is not None,
            "rate_per_s": self.limit.rate_per_s,
            "burst": self.limit.burst,
            "granted": self.granted,
            "refused": self.refused,
            "paused_for_s": round(max(0.0, self.gcra.paused_until - now), 3),
            "slowdown": self.gcra.slowdown(now),
            "last_hint": self.last_hint,
            "malformed_headers": sorted(self.malformed),
        }


class RateLimiter:
    """A provider's limiter as a caller sees it."""

    def __init__(self, provider: str, ref: ActorRef[Any]) -> None:
        self.provider = provider
        self._ref = ref

    async def acquire(self, *, wait: bool = True) -> float:
        """Wait for a slot; return how long that took.

        With ``wait=False``, raise :class:`RateLimited` (with its retry time)
        instead of waiting.
        """
        delay: float = await self._ref.ask(Reserve(wait))
        if delay > 0:
            await trio.sleep(delay)
        metrics.LIMITER_WAIT.labels(self.provider).observe(delay)
        return delay

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Tell the limiter what a response said about limits. Never blocks.

        Only responses with a status or header that can matter are sent; if
        the limiter's mailbox is full the hint is dropped (the next one will
        say the same).
        """
        if status not in (429, 503) and not any(name in headers for name in _HINT_HEADERS):
            return
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            self._ref.tell_nowait(Observe(status, lowered))
        except MailboxFull:
            log.debug("%s limiter busy: dropped a rate hint", self.provider)


def limiter_factory(
    provider: str, limit: RateLimit, shared_store: str | None = None
) -> Callable[[], RateLimiterActor]:
    return lambda: RateLimiterActor(provider, limit, shared_store)
