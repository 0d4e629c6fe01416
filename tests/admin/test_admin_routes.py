"""Delivery destinations on the admin listener: listed with their state, paused and resumed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from olactors.config import WebhooksConfig
from olactors.runtime import ActorSystem
from olactors.store import QueueItem
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config
from .test_admin_api import call

received: list[QueueItem] = []


async def keep(item: QueueItem) -> None:
    """The route's handler."""
    received.append(item)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    webhooks = {
        "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"]}},
        "routes": [
            {"name": "to-app", "source": "stripe", "events": ["*"], "handler": f"{__name__}:keep"}
        ],
    }
    settings = config(tmp_path).model_copy(
        update={"webhooks": WebhooksConfig.model_validate(webhooks)}
    )
    system = ActorSystem(build_tree(settings, {"ADMIN_TOKEN": TOKEN, "WHSEC": "whsec_x"}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.snapshot("/root/http/admin").state["addresses"][0]  # type: ignore[union-attr]
        yield Daemon(system, url)
        system.shutdown()


async def test_every_destination_is_listed_with_its_state(daemon: Daemon) -> None:
    [route] = (await call(daemon, "GET", "/routes")).json()
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
    [route] = (await call(daemon, "GET", "/routes")).json()
    assert route["state"]["paused"] is True
    resumed = await call(daemon, "POST", "/routes/webhooks.stripe/to-app/resume")
    assert resumed.json() == {}
    [route] = (await call(daemon, "GET", "/routes")).json()
    assert route["state"] == {}


async def test_pausing_an_unknown_destination_is_a_404(daemon: Daemon) -> None:
    answer = await call(daemon, "POST", "/routes/webhooks.stripe/nowhere/pause")
    assert answer.status_code == 404
