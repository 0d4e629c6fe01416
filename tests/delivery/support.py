"""An engine over a real sqlite store, with destinations that behave like apps outside."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from olactors.delivery import (
    AttemptFailed,
    Delivered,
    DeliveryGroup,
    DestinationSpec,
    Wake,
    courier_path,
    delivery_spec,
    queue_name,
)
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import Delivery, QueueItem, SqliteBackend, Store, store_spec

NS = "test.events"
#: One queued event as a destination is handed it.
ITEM = QueueItem(
    id="evt_1",
    queue="d:ns:app",
    payload=b'{"id": "evt_1"}',
    source="ns",
    meta={},
    attempt=1,
    enqueued_at=0.0,
    last_error=None,
)


@dataclass
class App:
    """An app at the far end: answers each event by its script, and remembers every call.

    ``script[event_id]`` lists what its successive calls do: None delivers,
    an exception is raised, a callable is awaited (to block, say).
    """

    script: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[tuple[str, float]] = field(default_factory=list)
    changed: trio.Event = field(default_factory=trio.Event)

    def order(self) -> list[str]:
        return [event_id for event_id, _ in self.calls]

    async def wait_for(self, condition: Callable[[], bool], within_s: float = 10.0) -> None:
        with trio.fail_after(within_s):
            while not condition():
                await self.changed.wait()


class AppDestination:
    """The Destination protocol over an :class:`App`."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def aclose(self) -> None:
        return None

    async def deliver(self, item: Any) -> Delivered:
        app = self.app
        app.calls.append((item.id, time.time()))  # the courier's own clock
        app.changed.set()
        app.changed = trio.Event()
        steps = app.script.get(item.id, [])
        step = steps.pop(0) if steps else None
        if callable(step):
            await step()
        elif isinstance(step, BaseException):
            raise step
        return Delivered(status=200, response=b"ok")


def failing(status: int = 500) -> AttemptFailed:
    return AttemptFailed(f"app answered {status}", outcome="http_error", status=status)


@dataclass
class Engine:
    system: ActorSystem
    store: Store

    async def publish(self, event_id: str, *, to: str = "app", key: str = "") -> None:
        delivery = Delivery(to, queue_name(NS, to), key)
        await self.store.publish(NS, event_id, "thing.happened", b"{}", [delivery])
        self.system.actor_ref(courier_path(NS, to)).tell_nowait(Wake())

    def courier(self, name: str = "app") -> dict[str, Any]:
        return self.system.actor_snapshot(courier_path(NS, name)).state

    async def until(self, condition: Callable[[], bool], within_s: float = 10.0) -> None:
        with trio.fail_after(within_s):
            while not condition():
                await trio.sleep(0.01)


@asynccontextmanager
async def engine(
    tmp_path: Path, specs: Sequence[DestinationSpec], *, drain_s: float = 5.0
) -> AsyncIterator[Engine]:
    """Store and couriers running for the block; an orderly stop at its end."""
    spec = SupervisorSpec(
        "root",
        children=[
            store_spec(lambda role: SqliteBackend(tmp_path / "o.db", role=role)),  # type: ignore[arg-type]
            delivery_spec(
                [DeliveryGroup(NS, specs, concurrency=16)], "/root/store", drain_s=drain_s
            ),
        ],
    )
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        yield Engine(system, Store.at(system, "/root/store"))
        system.shutdown()
