"""Stored events delivered by the source's workers: forwarded signed, retried, dead-lettered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from olactors.clients import ClientSettings, ProviderClient
from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSpec, ActorSystem, SupervisorSpec
from olactors.store import QueueItem, SqliteBackend, Store, store_spec
from olactors.testing import Canned, FakeProvider
from olactors.webhooks import (
    ForwardDestination,
    HandlerDestination,
    Route,
    WebhookIngress,
    WebhookSource,
    WebhookWorker,
)
from olactors.webhooks.verifiers import StripeVerifier

from .test_ingress import SECRET, stripe_signed

APP_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
handled: list[QueueItem] = []


async def collect(item: QueueItem) -> None:
    """A handler route's target."""
    handled.append(item)


flaky_calls: list[str] = []


async def buggy(item: QueueItem) -> None:
    """A destination with a bug: raises something no destination should."""
    raise ValueError("a bug in the destination")


async def flaky(item: QueueItem) -> None:
    """Fails the first time it sees an event."""
    flaky_calls.append(item.id)
    if flaky_calls.count(item.id) == 1:
        raise RuntimeError("not yet")


@dataclass
class Pipeline:
    system: ActorSystem
    store: Store
    app: FakeProvider
    url: str
    clients: list[ProviderClient] = field(default_factory=list)

    async def post(self, event_id: str, event_type: str) -> httpx.Response:
        body = json.dumps({"id": event_id, "type": event_type, "data": {}}).encode()
        async with httpx.AsyncClient(base_url=self.url) as client:
            return await client.post("/webhooks/stripe", content=body, headers=stripe_signed(body))

    def worker(self) -> dict[str, Any]:
        return self.system.snapshot("/root/webhooks/stripe/worker-1").state  # type: ignore[union-attr]


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    with trio.fail_after(within_s):
        while not condition():
            await trio.sleep(0.02)


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    async with trio.open_nursery() as nursery:
        app = FakeProvider(Canned(200, json={"ok": True}))
        await nursery.start(app.serve)
        clients: list[ProviderClient] = []

        def forward(lookup: Any) -> ForwardDestination:
            guard = ProviderGuard.at(lookup, "/root/resilience", "forward-app")
            client = ProviderClient("forward-app", ClientSettings(app.url, max_attempts=1), guard)
            clients.append(client)
            return ForwardDestination(client, "/hooks/stripe", APP_SECRET)

        def routes(lookup: Any) -> list[Route]:
            return [
                Route("to-app", "stripe", ["payment_intent.*", "charge.refunded"], forward(lookup)),
                Route(
                    "to-handler", "stripe", ["invoice.*"], HandlerDestination(f"{__name__}:collect")
                ),
                Route("flaky", "stripe", ["charge.*"], HandlerDestination(f"{__name__}:flaky")),
                Route("buggy", "stripe", ["bug.*"], buggy),
            ]

        limits = {"forward-app": (RateLimit(1000, 100), BreakerSettings(minimum_calls=20))}
        spec = SupervisorSpec(
            "root",
            children=[
                store_spec(lambda role: SqliteBackend(tmp_path / "o.db", role=role)),
                resilience_spec(limits),
                SupervisorSpec(
                    "webhooks",
                    children=[
                        SupervisorSpec(
                            "stripe",
                            children=[
                                ActorSpec(
                                    "worker-1",
                                    lambda: WebhookWorker(
                                        "stripe",
                                        routes,
                                        "/root/store",
                                        schedule_s=(0.05, 0.05),
                                        poll_s=0.02,
                                    ),
                                )
                            ],
                        )
                    ],
                ),
            ],
        )
        system = ActorSystem(spec)
        await nursery.start(system.run)
        store = Store.at(system.registry.handle, "/root/store")
        sources = {"stripe": WebhookSource("stripe", "stripe", StripeVerifier([SECRET]))}
        config = HypercornConfig()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        binds = await nursery.start(serve, WebhookIngress(sources, store), config)
        handled.clear()
        flaky_calls.clear()
        yield Pipeline(system, store, app, binds[0], clients)
        for client in clients:
            await client.aclose()
        system.shutdown()
        nursery.cancel_scope.cancel()


def verified(seen: Any) -> Any:
    headers = {k: v for k, v in seen.headers.items() if k.startswith("webhook-")}
    return standardwebhooks.Webhook(APP_SECRET).verify(seen.body, headers)


async def test_an_event_reaches_the_app_once_signed_with_standard_webhooks(
    pipeline: Pipeline,
) -> None:
    await pipeline.post("evt_1", "payment_intent.succeeded")
    await until(lambda: len(pipeline.app.seen("/hooks/stripe")) == 1)
    delivered = pipeline.app.seen("/hooks/stripe")[0]
    assert verified(delivered)["id"] == "evt_1"
    assert delivered.headers["webhook-id"] == "evt_1"
    duplicate = await pipeline.post("evt_1", "payment_intent.succeeded")
    assert duplicate.json()["status"] == "duplicate"
    await trio.sleep(0.3)
    assert len(pipeline.app.seen("/hooks/stripe")) == 1


async def test_an_app_failing_then_recovering_gets_the_event_on_a_retry(pipeline: Pipeline) -> None:
    pipeline.app.script("/hooks/stripe", Canned(500))
    await pipeline.post("evt_2", "charge.refunded")
    await until(lambda: pipeline.worker()["delivered"] == 1)
    assert len(pipeline.app.seen("/hooks/stripe")) == 2
    assert (await pipeline.store.counts("stripe")).ready == 0


async def test_an_app_that_keeps_failing_ends_in_a_dead_letter_that_replay_delivers(
    pipeline: Pipeline,
) -> None:
    pipeline.app.route("/hooks/stripe", Canned(500, json={"error": "down"}))
    await pipeline.post("evt_3", "payment_intent.created")
    await until(lambda: pipeline.worker()["dead_lettered"] == 1)
    page = await pipeline.store.dead_letters("stripe")
    [dead] = page.items
    assert (dead.id, dead.attempts) == ("evt_3", 3)
    assert "HTTP 500" in (dead.last_error or "")
    pipeline.app.route("/hooks/stripe", Canned(200, json={"ok": True}))
    await pipeline.store.replay("stripe", "evt_3")
    await until(lambda: pipeline.worker()["delivered"] == 1)
    assert verified(pipeline.app.seen("/hooks/stripe")[-1])["id"] == "evt_3"


async def test_a_410_disables_the_route(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline.app.route("/hooks/stripe", Canned(410))
    await pipeline.post("evt_4", "payment_intent.succeeded")
    await until(lambda: pipeline.worker()["delivered"] == 1)
    assert "ROUTE DISABLED: to-app" in caplog.text
    await pipeline.post("evt_5", "payment_intent.succeeded")
    await until(lambda: pipeline.worker()["delivered"] == 2)
    assert len(pipeline.app.seen("/hooks/stripe")) == 1


async def test_a_handler_route_is_awaited_with_the_event(pipeline: Pipeline) -> None:
    await pipeline.post("evt_6", "invoice.paid")
    await until(lambda: len(handled) == 1)
    assert json.loads(handled[0].payload)["id"] == "evt_6"
    assert pipeline.app.seen("/hooks/stripe") == []


async def test_an_event_no_route_wants_is_acknowledged_and_dropped(pipeline: Pipeline) -> None:
    await pipeline.post("evt_7", "customer.created")
    await until(lambda: pipeline.worker()["delivered"] == 1)
    assert pipeline.app.requests == []
    assert handled == []


async def test_a_route_that_delivered_is_not_asked_again_when_another_is_retried(
    pipeline: Pipeline,
) -> None:
    await pipeline.post("evt_8", "charge.refunded")  # to the app, and to the flaky handler
    await until(lambda: pipeline.worker()["delivered"] == 1)
    assert flaky_calls == ["evt_8", "evt_8"]
    assert len(pipeline.app.seen("/hooks/stripe")) == 1


async def test_a_destination_that_raises_a_bug_ends_in_a_dead_letter_not_a_crash_loop(
    pipeline: Pipeline,
) -> None:
    await pipeline.post("evt_9", "bug.report")
    await until(lambda: pipeline.worker()["dead_lettered"] == 1)
    [dead] = (await pipeline.store.dead_letters("stripe")).items
    assert "ValueError: a bug in the destination" in (dead.last_error or "")
    assert pipeline.system.snapshot("/root/webhooks/stripe/worker-1").restarts_total == 0
