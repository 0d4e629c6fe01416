"""POST /webhooks/{source} over real HTTP: stored before answered, refused without storing."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from olactors import metrics
from olactors.http import EdgeLimits, hypercorn_config, serve
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import RedisBackend, SqliteBackend, Store, store_spec
from olactors.testing import RedisServer
from olactors.webhooks import WebhookIngress, WebhookSource
from olactors.webhooks.verifiers import SendGridVerifier, StripeVerifier

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECRET = "whsec_test_secret"
EVENT = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "clients"
        / "fixtures"
        / "payment_intent.succeeded.json"
    ).read_text()
)
SENDGRID = json.loads((FIXTURES / "sendgrid_vectors.json").read_text())["vectors"][1]


def stripe_signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    now = int(time.time())
    signature = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={signature}", "Content-Type": "application/json"}


@dataclass
class Edge:
    url: str
    store: Store
    system: ActorSystem


async def open_edge(
    nursery: trio.Nursery,
    make_backend: Any,
    limits: EdgeLimits | None = None,
    header_timeout_s: float = 5.0,
    **options: Any,
) -> Edge:
    """The webhook app behind the daemon's own accept loop, on a free port."""
    system = ActorSystem(SupervisorSpec("root", children=[store_spec(make_backend)]))
    await nursery.start(system.run)
    store = Store.at(system, "/root/store", timeout_s=2)
    sources = options.pop("sources", None) or {
        "stripe": WebhookSource("stripe", "stripe", StripeVerifier([SECRET])),
        "sendgrid": WebhookSource(
            "sendgrid", "sendgrid", SendGridVerifier(SENDGRID["public_key"], tolerance_s=1e12)
        ),
    }
    app = WebhookIngress(sources, store, **options)
    config = hypercorn_config(
        "127.0.0.1:0", graceful_timeout_s=10.0, header_timeout_s=header_timeout_s
    )
    stop = trio.Event()
    binds = await nursery.start(
        partial(
            serve, app, config, limits or EdgeLimits(), name="public", shutdown_trigger=stop.wait
        )
    )
    return Edge(binds[0], store, system)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with trio.open_nursery() as nursery:
        edge = await open_edge(
            nursery, lambda role: SqliteBackend(tmp_path / "o.db", role=role), max_body_bytes=64_000
        )
        yield edge
        edge.system.shutdown()
        nursery.cancel_scope.cancel()


async def post(edge: Edge, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        return await client.post(f"/webhooks/{source}", content=body, headers=headers)


BODY = json.dumps(EVENT).encode()


async def test_a_signed_event_is_stored_before_the_200(edge: Edge) -> None:
    response = await post(edge, "stripe", BODY, stripe_signed(BODY))
    assert response.status_code == 200
    assert response.json() == {"status": "queued", "event_id": EVENT["id"]}
    stored = await edge.store.event("webhooks.stripe", str(EVENT["id"]))
    assert stored.payload == BODY
    assert stored.type == "payment_intent.succeeded"


async def test_the_same_event_again_is_answered_as_a_duplicate_and_stored_once(edge: Edge) -> None:
    await post(edge, "stripe", BODY, stripe_signed(BODY))
    again = await post(edge, "stripe", BODY, stripe_signed(BODY))
    assert again.json() == {"status": "duplicate", "event_id": EVENT["id"]}
    assert len((await edge.store.events("webhooks.stripe")).items) == 1


async def test_a_bad_signature_is_401_and_nothing_is_stored(edge: Edge) -> None:
    def refused() -> float:
        labels = {"source": "stripe", "status": "401"}
        return metrics.REGISTRY.get_sample_value("olactors_ingress_requests_total", labels) or 0

    before = refused()
    response = await post(edge, "stripe", BODY, stripe_signed(BODY, secret="whsec_wrong"))
    assert response.status_code == 401
    assert refused() == before + 1
    assert response.json()["error"] == "BadSignature"
    assert await edge.store.queues() == []
    assert (await edge.store.events("webhooks.stripe")).items == []


async def test_a_signed_body_that_is_not_json_is_400(edge: Edge) -> None:
    body = b"{not json"
    response = await post(edge, "stripe", body, stripe_signed(body))
    assert response.status_code == 400
    assert await edge.store.queues() == []
    assert (await edge.store.events("webhooks.stripe")).items == []


async def test_an_unknown_source_is_404(edge: Edge) -> None:
    response = await post(edge, "paypal", BODY, {})
    assert response.status_code == 404


async def test_anything_but_post_is_405(edge: Edge) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.get("/webhooks/stripe")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")


async def test_a_body_declared_too_large_is_413_before_it_is_read(edge: Edge) -> None:
    body = b"x" * 70_000
    response = await post(edge, "stripe", body, stripe_signed(body))
    assert response.status_code == 413


async def test_a_streamed_body_is_cut_off_at_the_limit(edge: Edge) -> None:
    # Chunked, so no Content-Length tells the limit in advance: the server
    # must stop reading at 64 kB and answer, not take the whole body first.
    url = httpx.URL(edge.url)
    stream = await trio.open_tcp_stream(url.host, url.port or 80)
    signature = stripe_signed(b"")["Stripe-Signature"].encode()  # passes the header checks
    head = (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n"
        b"Stripe-Signature: " + signature + b"\r\n\r\n"
    )
    await stream.send_all(head)

    async def send_forever() -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while True:  # an endless body: only an early answer ends this test
                await stream.send_all(b"3e8\r\n" + b"x" * 1000 + b"\r\n")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_forever)
        with trio.fail_after(10):
            answer = await stream.receive_some(4096)
        nursery.cancel_scope.cancel()
    await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 413")


async def test_each_sendgrid_event_of_a_batch_is_stored_on_its_own(edge: Edge) -> None:
    body = (FIXTURES / SENDGRID["body_file"]).read_bytes()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": SENDGRID["signature"],
        "X-Twilio-Email-Event-Webhook-Timestamp": SENDGRID["timestamp"],
    }
    response = await post(edge, "sendgrid", body, headers)
    assert response.status_code == 200
    listed = response.json()["events"]
    ids = [e["sg_event_id"] for e in json.loads(body)]
    assert [e["event_id"] for e in listed] == ids
    stored = (await edge.store.events("webhooks.sendgrid")).items
    assert sorted(e.id for e in stored) == sorted(ids)


async def test_a_store_that_is_down_is_503_with_retry_after(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis_server:
        async with trio.open_nursery() as nursery:
            edge = await open_edge(
                nursery, lambda role: RedisBackend(redis_server.url, prefix="edge", timeout_s=0.5)
            )
            await trio.to_thread.run_sync(redis_server.kill)
            response = await post(edge, "stripe", BODY, stripe_signed(BODY))
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            # A SendGrid batch stores its events concurrently: still a 503.
            batch = (FIXTURES / SENDGRID["body_file"]).read_bytes()
            headers = {
                "X-Twilio-Email-Event-Webhook-Signature": SENDGRID["signature"],
                "X-Twilio-Email-Event-Webhook-Timestamp": SENDGRID["timestamp"],
            }
            assert (await post(edge, "sendgrid", batch, headers)).status_code == 503
            edge.system.shutdown()
            nursery.cancel_scope.cancel()
