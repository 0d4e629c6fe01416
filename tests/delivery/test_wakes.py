"""Across replicas on Redis: a courier learns of work another replica stored, without polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from olactors.delivery import (
    DeliveryGroup,
    DestinationSpec,
    courier_path,
    delivery_spec,
    queue_name,
    wake_courier,
)
from olactors.runtime import ActorSpec, ActorSystem, SupervisorSpec
from olactors.store import Delivery, QueueWakes, RedisBackend, Store, store_spec
from olactors.testing import RedisServer

from .support import NS, App, AppDestination


def replica(url: str, app: App | None) -> SupervisorSpec:
    store = store_spec(lambda role: RedisBackend(url, prefix="wk", timeout_s=2))
    if app is None:
        return SupervisorSpec("root", children=[store])
    spec = DestinationSpec(NS, "app", lambda refs: AppDestination(app))
    wakes = ActorSpec(
        "wakes", lambda: QueueWakes(url, prefix="wk", password=None, on_wake=wake_courier)
    )
    # Idle couriers sleep an hour: only a wake-up can make this one claim again.
    engine = delivery_spec([DeliveryGroup(NS, [spec])], "/root/store", refresh_s=3600, wakes=wakes)
    return SupervisorSpec("root", children=[store, engine])


def state(system: ActorSystem, path: str) -> dict[str, Any]:
    return system.snapshot(path).state  # type: ignore[union-attr,no-any-return]


async def test_a_courier_is_woken_by_work_another_replica_stored(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis:
        app = App()
        storing, delivering = (
            ActorSystem(replica(redis.url, None)),
            ActorSystem(replica(redis.url, app)),
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(storing.run)
            await nursery.start(delivering.run)
            courier = courier_path(NS, "app")
            with trio.fail_after(10):
                # Subscribed, and the courier has claimed once and gone to sleep.
                while not (
                    state(delivering, "/root/delivery/wakes")["connected"]
                    and state(delivering, courier)["claims"] >= 1
                ):
                    await trio.sleep(0.01)
            store = Store.at(storing, "/root/store")
            await store.publish(
                NS, "e1", "thing.happened", b"{}", [Delivery("app", queue_name(NS, "app"))]
            )
            await app.wait_for(lambda: app.order() == ["e1"])
            assert state(delivering, "/root/delivery/wakes")["received"] >= 1
            storing.shutdown()
            delivering.shutdown()
