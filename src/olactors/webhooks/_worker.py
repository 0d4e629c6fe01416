"""A source's workers: claim stored events with a lease, deliver them, retry, dead-letter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio

from .. import metrics
from ..runtime import Actor
from ..store import Lease, QueueItem, Store, StoreError, StoreUnavailable
from ._routes import DeliveryFailed, Route, RouteGone

log = logging.getLogger("olactors.webhooks")

#: Builds a worker's routes once it can look up what they use (limiters, breakers).
RoutesFactory = Callable[[Callable[[str], Any]], Sequence[Route]]

#: After each failed attempt, wait this long (jittered) before the next one;
#: after the last, the event is dead-lettered with its last error.
DEFAULT_SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class WebhookWorker(Actor[Any]):
    """Works one source's queue in a task of its own until stopped.

    For each claimed event, every matching route that has not delivered it
    yet (a processed mark per event and route, in the store) gets it. All
    delivered: ack. Some failed: nack with the next retry time from the
    schedule (never before a Retry-After the destination gave), or, past
    the last attempt, bury it as a dead letter with the errors. A route
    whose destination answers 410 is disabled (shared by replicas through
    the store) and logged loudly. A crash or a kill leaves the lease to
    expire; the event is then claimed again, and the marks keep delivered
    routes from receiving it twice.
    """

    def __init__(
        self,
        source: str,
        routes: RoutesFactory,
        store_path: str,
        *,
        lease_s: float = 60.0,
        schedule_s: Sequence[float] = DEFAULT_SCHEDULE_S,
        poll_s: float = 0.5,
        marks_ttl_s: float = 7 * 24 * 3600.0,
    ) -> None:
        self.source = source
        self._make_routes = routes
        self.routes: list[Route] = []
        self.store_path = store_path
        self.lease_s = lease_s
        self.schedule_s = list(schedule_s)
        self.poll_s = poll_s
        self.marks_ttl_s = marks_ttl_s
        self.delivered = 0
        self.retried = 0
        self.dead = 0
        self.last_error: str | None = None
        self._store: Store | None = None

    async def started(self) -> None:
        self._store = Store.at(self.context.lookup, self.store_path)
        self.routes = list(self._make_routes(self.context.lookup))
        self.context.nursery.start_soon(self._work)

    async def stopping(self) -> None:
        for route in self.routes:
            close = getattr(route.deliver, "aclose", None)
            if close is not None:
                await close()

    async def receive(self, message: Any) -> None:
        raise TypeError("a webhook worker takes no messages; it works its queue")

    async def _work(self) -> None:
        assert self._store is not None
        while True:
            try:
                lease = await self._store.claim(self.source, lease_s=self.lease_s)
            except StoreUnavailable:
                await trio.sleep(1.0)  # the store backs off too; try again shortly
                continue
            if lease is None:
                await trio.sleep(self.poll_s)
                continue
            try:
                with metrics.PROCESSING_SECONDS.labels(self.source).time():
                    await self._process(lease)
            except StoreError as exc:
                # The outcome could not be recorded: the lease will expire and
                # the event come back; the marks keep it from being delivered twice.
                log.warning(
                    "%s: could not settle %s: %s",
                    self.source,
                    lease.item.id,
                    exc,
                    extra={"source": self.source, "event_id": lease.item.id},
                )

    async def _process(self, lease: Lease) -> None:
        assert self._store is not None
        store, item = self._store, lease.item
        event_type = item.meta.get("type", "")
        errors: list[str] = []
        wait_at_least = 0.0
        for route in self.routes:
            if not route.matches(event_type):
                continue
            # Source and route names have no colon (the config checks): the id,
            # last, cannot make two keys alike.
            mark = f"done:{self.source}:{route.name}:{item.id}"
            if await store.get(mark) is not None or await store.get(_off(route)) is not None:
                continue
            try:
                await self._deliver_within_lease(route, item)
            except RouteGone as exc:
                await store.put(_off(route), b"410 Gone")
                log.error(  # noqa: TRY400 -- a destination's answer, not a bug of ours
                    "ROUTE DISABLED: %s (%s) answered 410 Gone; no more events go there "
                    "until an operator re-enables it",
                    route.name,
                    exc,
                )
                continue
            except DeliveryFailed as exc:
                errors.append(f"{route.name}: {exc}")
                wait_at_least = max(wait_at_least, exc.retry_after_s or 0.0)
                continue
            except Exception as exc:
                # A destination's bug: retried and dead-lettered like any failure,
                # never a crash loop of the worker.
                log.exception(
                    "%s: route %s failed on %s",
                    self.source,
                    route.name,
                    item.id,
                    extra={"source": self.source, "event_id": item.id},
                )
                errors.append(f"{route.name}: {type(exc).__name__}: {exc}")
                continue
            await store.put(mark, b"1", ttl_s=self.marks_ttl_s)
        if not errors:
            await store.ack(lease)
            self.delivered += 1
            return
        error = "; ".join(errors)
        self.last_error = error
        if item.attempt > len(self.schedule_s):
            await store.bury(lease, error)
            self.dead += 1
            metrics.DEAD_LETTERS.labels(self.source).inc()
            log.error(
                "%s event %s dead-lettered after %d attempts: %s",
                self.source,
                item.id,
                item.attempt,
                error,
                extra={"source": self.source, "event_id": item.id},
            )
            return
        delay = self.schedule_s[item.attempt - 1] * random.uniform(0.8, 1.2)  # noqa: S311 -- jitter
        await store.nack(lease, error, retry_at=time.time() + max(delay, wait_at_least))
        self.retried += 1
        metrics.DELIVERY_RETRIES.labels(self.source).inc()

    async def _deliver_within_lease(self, route: Route, item: QueueItem) -> None:
        # Past the lease another worker could claim the event and deliver it
        # again: a delivery that would outlast it is cut short and retried.
        limit = self.lease_s * 0.8
        with trio.move_on_after(limit) as deadline:
            await route.deliver(item)
        if deadline.cancelled_caught:
            raise DeliveryFailed(f"no answer within {limit:g} s")

    def inspect(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "routes": [route.name for route in self.routes],
            "delivered": self.delivered,
            "retried": self.retried,
            "dead_lettered": self.dead,
            "last_error": self.last_error,
        }


def _off(route: Route) -> str:
    return f"route-off:{route.name}"
