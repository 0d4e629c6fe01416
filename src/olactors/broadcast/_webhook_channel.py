"""The webhook channel: a courier per registered endpoint, kept in step with the registry.

``/root/broadcast/webhook`` holds ``endpoints`` (a supervisor of one courier
per endpoint, each with its own breaker, retries and 410 handling) and
``registry`` after it, rest-for-one: the registry starts a courier for each
endpoint in the store, and again after a restart of ``endpoints`` (whose
couriers, added at run time, would otherwise be gone). A deleted endpoint
keeps its courier while its queue holds items: it rejects them, so each
broadcast target of it settles as failed instead of pending for ever. It looks again every
:data:`SYNC_S` and when the API tells it (:class:`Sync`), so an endpoint
registered on another replica is served here within seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from ..delivery import DestinationSpec, RetryPolicy, SlotPool, courier_spec, destination_of
from ..runtime import Actor, ActorContext, ActorError, ActorSpec, Strategy, SupervisorSpec
from ..store import Store, StoreError
from ._endpoints import EndpointDestination, Endpoints
from ._model import NAMESPACE
from ._paths import ENDPOINTS_PATH

log = logging.getLogger("olactors.broadcast")

SYNC_S = 5.0


class Sync(msgspec.Struct, frozen=True):
    """Read the registry now: an endpoint was added or deleted."""


@dataclass(frozen=True)
class EndpointCouriers:
    """How an endpoint's courier is built, and where the endpoints are kept."""

    store_path: str
    policy: RetryPolicy
    allow_private: bool
    limit: int
    drain_s: float
    #: Attempts at once across every endpoint of this replica.
    shared: SlotPool = field(default_factory=lambda: SlotPool(256))

    def endpoints(self, context: ActorContext) -> Endpoints:
        return Endpoints(Store.at(context, self.store_path), context.clock, limit=self.limit)

    def spec(self, endpoint_id: str) -> ActorSpec:
        def destination(context: ActorContext) -> EndpointDestination:
            return EndpointDestination(
                endpoint_id,
                self.endpoints(context),
                context.clock,
                allow_private=self.allow_private,
            )

        spec = DestinationSpec(NAMESPACE, endpoint_id, destination, policy=self.policy)
        return courier_spec(spec, self.store_path, self.shared, drain_s=self.drain_s)


class EndpointRegistry(Actor[Sync]):
    def __init__(self, couriers: EndpointCouriers, *, sync_s: float = SYNC_S) -> None:
        self.couriers = couriers
        self.sync_s = sync_s
        self.endpoints = 0
        self.last_error: str | None = None

    async def started(self) -> None:
        await self._sync()
        self.context.nursery.start_soon(self._every)

    async def _every(self) -> None:
        while True:
            await trio.sleep(self.sync_s)
            self.context.ref.tell_nowait(Sync())

    async def receive(self, message: Sync) -> None:
        await self._sync()

    async def _sync(self) -> None:
        supervisor = self.context.supervisor(ENDPOINTS_PATH)
        try:
            wanted = set(await self.couriers.endpoints(self.context).all())
            wanted |= await self._deleted_with_work()
        except StoreError as exc:
            self.last_error = str(exc)
            return  # the next round tries again; the couriers that run go on
        self.last_error = None
        running = set(supervisor.children())
        for name in sorted(wanted - running):
            try:
                await supervisor.start_child(self.couriers.spec(name))
            except ActorError as exc:
                log.warning("webhook endpoint %s: its courier did not start: %s", name, exc)
        for name in sorted(running - wanted):
            await supervisor.remove_child(name)
        self.endpoints = len(wanted)

    async def _deleted_with_work(self) -> set[str]:
        """Deleted endpoints whose queue still holds items: their courier runs until it
        has rejected each one, so every broadcast target of theirs settles (failed)."""
        store = Store.at(self.context, self.couriers.store_path)
        found = set()
        for queue in await store.queues():
            owner = destination_of(queue)
            if owner is None or owner[0] != NAMESPACE or not owner[1].startswith("ep_"):
                continue
            counts = await store.counts(queue)
            if counts.ready + counts.leased + counts.delayed + counts.held:
                found.add(owner[1])
        return found

    def inspect(self) -> dict[str, Any]:
        return {"endpoints": self.endpoints, "last_error": self.last_error}


def webhook_channel_spec(
    couriers: EndpointCouriers, supervised: Mapping[str, Any]
) -> SupervisorSpec:
    return SupervisorSpec(
        "webhook",
        children=[
            SupervisorSpec("endpoints", children=[], **{**supervised, "max_restarts": 10}),
            ActorSpec("registry", lambda: EndpointRegistry(couriers)),
        ],
        strategy=Strategy.REST_FOR_ONE,
        **supervised,
    )
