"""Stored events delivered by the source's workers: forwarded signed, retried, dead-lettered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from olactors.delivery import (
    DeliveryGroup,
    DestinationSpec,
    HandlerDestination,
    HttpDestination,
    RetryPolicy,
    Wake,
    courier_path,
    delivery_spec,
)
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import Delivery, QueueItem, SqliteBackend, Store, store_spec
from olactors.testing import Canned, FakeProvider
from olactors.webhooks import Route, Router, WebhookIngress, WebhookSource
from olactors.webhooks.verifiers import StripeVerifier

from .test_ingress import SECRET, stripe_signed

APP_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NS = "webhooks.stripe"
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


def exits(item: QueueItem) -> None:
    """A synchronous handler that calls sys.exit (run in a worker thread)."""
    raise SystemExit(3)


async def interrupts(item: QueueItem) -> None:
    """An async handler raising a BaseException that is not trio's cancellation."""
    raise KeyboardInterrupt


@dataclass
class Pipeline:
    system: ActorSystem
    store: Store
    app: FakeProvider
    url: str

    async def post(self, event_id: str, event_type: str, **data: Any) -> httpx.Response:
        body = json.dumps({"id": event_id, "type": event_type, "data": data}).encode()
        async with httpx.AsyncClient(base_url=self.url) as client:
            return await client.post("/webhooks/stripe", content=body, headers=stripe_signed(body))

    def courier(self, route: str) -> dict[str, Any]:
        return self.system.actor_snapshot(courier_path(NS, route)).state


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    with trio.fail_after(within_s):
        while not condition():
            await trio.sleep(0.02)


FAST = RetryPolicy((0.05, 0.05), jitter=0.0)


def destinations(app_url: str) -> list[DestinationSpec]:
    def handler(target: str) -> Callable[[Any], HandlerDestination]:
        return lambda refs: HandlerDestination(f"{__name__}:{target}")

    return [
        DestinationSpec(
            NS,
            "to-app",
            lambda refs: HttpDestination(f"{app_url}/hooks/stripe", APP_SECRET),
            policy=FAST,
        ),
        DestinationSpec(NS, "to-handler", handler("collect"), policy=FAST),
        DestinationSpec(NS, "flaky", handler("flaky"), policy=FAST),
        DestinationSpec(NS, "buggy", handler("buggy"), policy=FAST),
        DestinationSpec(NS, "exits", handler("exits"), policy=FAST),
        DestinationSpec(NS, "interrupts", handler("interrupts"), policy=FAST),
    ]


ROUTES = [
    Route("to-app", ["payment_intent.*", "charge.refunded"]),
    Route("to-handler", ["invoice.*"]),
    Route("flaky", ["charge.*"]),
    Route("buggy", ["bug.*"]),
    Route("exits", ["exits.*"]),
    Route("interrupts", ["interrupts.*"]),
]


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    async with trio.open_nursery() as nursery:
        app = FakeProvider(Canned(200, json={"ok": True}))
        await nursery.start(app.serve)
        spec = SupervisorSpec(
            "root",
            children=[
                store_spec(lambda role: SqliteBackend(tmp_path / "o.db", role=role)),
                delivery_spec([DeliveryGroup(NS, destinations(app.url))], "/root/store"),
            ],
        )
        system = ActorSystem(spec)
        async with trio.open_nursery() as tree:
            await tree.start(system.run)
            store = Store.at(system, "/root/store")
            sources = {"stripe": WebhookSource("stripe", "stripe", StripeVerifier([SECRET]))}

            def wake(namespace: str, deliveries: list[Delivery]) -> None:
                for delivery in deliveries:
                    system.actor_ref(courier_path(namespace, delivery.destination)).tell_nowait(
                        Wake()
                    )

            ingress = WebhookIngress(
                sources, store, routers={"stripe": Router("stripe", ROUTES)}, wake=wake
            )
            config = HypercornConfig()
            config.bind = ["127.0.0.1:0"]
            config.accesslog = None
            binds = await nursery.start(serve, ingress, config)
            handled.clear()
            flaky_calls.clear()
            yield Pipeline(system, store, app, binds[0])
            system.shutdown()  # the tree's nursery ends once every courier has closed
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
    await until(lambda: pipeline.courier("to-app")["delivered"] == 1)
    assert len(pipeline.app.seen("/hooks/stripe")) == 1


async def test_an_app_failing_then_recovering_gets_the_event_on_a_retry(pipeline: Pipeline) -> None:
    pipeline.app.script("/hooks/stripe", Canned(500))
    await pipeline.post("evt_2", "payment_intent.created")
    await until(lambda: pipeline.courier("to-app")["delivered"] == 1)
    assert len(pipeline.app.seen("/hooks/stripe")) == 2
    record = await pipeline.store.event(NS, "evt_2")
    assert [(a.outcome, a.status) for a in record.attempts] == [
        ("http_error", 500),
        ("delivered", 200),
    ]


async def test_an_app_that_keeps_failing_ends_in_a_dead_letter_that_replay_delivers(
    pipeline: Pipeline,
) -> None:
    pipeline.app.route("/hooks/stripe", Canned(500, json={"error": "down"}))
    await pipeline.post("evt_3", "payment_intent.created")
    await until(lambda: pipeline.courier("to-app")["dead_lettered"] == 1)
    queue = "d:webhooks.stripe:to-app"
    [dead] = (await pipeline.store.dead_letters(queue)).items
    assert (dead.id, dead.attempts) == ("evt_3", 3)
    assert "answered 500" in (dead.last_error or "")
    assert (await pipeline.store.event(NS, "evt_3")).status == "dead"
    pipeline.app.route("/hooks/stripe", Canned(200, json={"ok": True}))
    await pipeline.store.replay(queue, "evt_3")
    pipeline.system.actor_ref(courier_path(NS, "to-app")).tell_nowait(Wake())
    await until(lambda: pipeline.courier("to-app")["delivered"] == 1)
    assert verified(pipeline.app.seen("/hooks/stripe")[-1])["id"] == "evt_3"


async def test_a_handler_route_is_awaited_with_the_event(pipeline: Pipeline) -> None:
    await pipeline.post("evt_6", "invoice.paid")
    await until(lambda: len(handled) == 1)
    assert json.loads(handled[0].payload)["id"] == "evt_6"
    assert pipeline.app.seen("/hooks/stripe") == []


async def test_an_event_no_route_wants_is_logged_as_dropped(pipeline: Pipeline) -> None:
    await pipeline.post("evt_7", "customer.created")
    assert (await pipeline.store.event(NS, "evt_7")).status == "dropped"
    assert pipeline.app.requests == []
    assert handled == []


async def test_a_route_that_delivered_is_not_asked_again_when_another_is_retried(
    pipeline: Pipeline,
) -> None:
    await pipeline.post("evt_8", "charge.refunded")  # to the app, and to the flaky handler
    await until(lambda: pipeline.courier("flaky")["delivered"] == 1)
    assert flaky_calls == ["evt_8", "evt_8"]
    assert len(pipeline.app.seen("/hooks/stripe")) == 1
    record = await pipeline.store.event(NS, "evt_8")
    assert record.destinations == {"to-app": "delivered", "flaky": "delivered"}


async def test_a_destination_that_raises_a_bug_ends_in_a_dead_letter_not_a_crash_loop(
    pipeline: Pipeline,
) -> None:
    await pipeline.post("evt_9", "bug.report")
    await until(lambda: pipeline.courier("buggy")["dead_lettered"] == 1)
    [dead] = (await pipeline.store.dead_letters("d:webhooks.stripe:buggy")).items
    assert "ValueError: a bug in the destination" in (dead.last_error or "")
    assert pipeline.system.snapshot(courier_path(NS, "buggy")).restarts_total == 0


@pytest.mark.parametrize("route", ["exits", "interrupts"])
async def test_a_handler_raising_a_base_exception_is_a_failed_attempt_not_a_crash(
    pipeline: Pipeline, route: str
) -> None:
    await pipeline.post("evt_10", f"{route}.now")
    await until(lambda: pipeline.courier(route)["dead_lettered"] == 1)
    [dead] = (await pipeline.store.dead_letters(f"d:webhooks.stripe:{route}")).items
    assert ("SystemExit" if route == "exits" else "KeyboardInterrupt") in (dead.last_error or "")
    assert pipeline.system.snapshot(courier_path(NS, route)).restarts_total == 0
