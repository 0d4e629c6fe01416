"""Delivery destinations on the admin listener: listed with their state, paused and resumed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from olactors.config import WebhooksConfig
from olactors.delivery import Wake, queue_name
from olactors.runtime import ActorSystem
from olactors.store import Delivery, QueueItem, Store
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config
from .test_admin_api import call

received: list[QueueItem] = []


async def keep(item: QueueItem) -> None:
    """The route's handler."""
    received.append(item)


async def fail(item: QueueItem) -> None:
    """A route whose app is down."""
    raise RuntimeError("down")


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    webhooks = {
        "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"]}},
        "routes": [
            {"name": "to-app", "source": "stripe", "events": ["*"], "handler": f"{__name__}:keep"},
            {
                "name": "failing",
                "source": "stripe",
                "events": ["never.*"],
                "handler": f"{__name__}:fail",
                "breaker": {"window_size": 2, "minimum_calls": 2, "open_s": 300},
            },
        ],
    }
    settings = config(tmp_path).model_copy(
        update={"webhooks": WebhooksConfig.model_validate(webhooks)}
    )
    system = ActorSystem(
        build_tree(settings, {"ADMIN_TOKEN": TOKEN, "WHSEC": "whsec_xStripeSecret0123456789abcdef"})
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        yield Daemon(system, url)
        system.shutdown()


async def test_every_destination_is_listed_with_its_state(daemon: Daemon) -> None:
    route, _ = (await call(daemon, "GET", "/routes")).json()
    assert route["path"] == "/root/delivery/webhooks.stripe/to-app"
    assert (route["destination"], route["breaker"], route["state"]) == ("to-app", "closed", {})


async def test_a_destination_is_paused_with_a_reason_and_resumed(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        paused = await client.post(
            "/routes/webhooks.stripe/to-app/pause",
            json={"reason": "deploying"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert paused.status_code == 200
    assert (paused.json()["paused"], paused.json()["reason"]) == (True, "deploying")
    route, _ = (await call(daemon, "GET", "/routes")).json()
    assert route["state"]["paused"] is True
    resumed = await call(daemon, "POST", "/routes/webhooks.stripe/to-app/resume")
    assert resumed.json() == {}
    route, _ = (await call(daemon, "GET", "/routes")).json()
    assert route["state"] == {}


async def test_pausing_an_unknown_destination_is_a_404(daemon: Daemon) -> None:
    answer = await call(daemon, "POST", "/routes/webhooks.stripe/nowhere/pause")
    assert answer.status_code == 404


async def test_a_destinations_breaker_is_reset_by_hand(daemon: Daemon) -> None:
    store = Store.at(daemon.system, "/root/store")
    failing = Delivery("failing", queue_name("webhooks.stripe", "failing"))
    for n in range(2):  # the breaker judges windows of 2 calls
        await store.publish("webhooks.stripe", f"evt_{n}", "x", b"{}", [failing])
    courier = daemon.system.actor_ref("/root/delivery/webhooks.stripe/failing")
    await courier.tell(Wake())

    async def breaker() -> str:
        routes = (await call(daemon, "GET", "/routes")).json()
        return str(next(r["breaker"] for r in routes if r["destination"] == "failing"))

    with trio.fail_after(10):
        while await breaker() != "open":
            await trio.sleep(0.02)
    answer = await call(daemon, "POST", "/routes/webhooks.stripe/failing/reset-breaker")
    assert answer.status_code == 200
    assert await breaker() == "closed"
