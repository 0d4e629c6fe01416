"""POST /v1/broadcasts: stored, fanned out to each target's channel, settled like allSettled."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from trio_websocket import open_websocket_url

from olactors.testing import Canned, FakeProvider
from olactors.webhooks.verifiers.standard import StandardVerifier

from .support import FAST, Daemon, broadcast, call, connected, endpoint, frame, run_daemon, settled


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with run_daemon(tmp_path, allow_private_endpoints=True, **FAST) as running:
        yield running


async def test_a_websocket_target_reaches_the_topic_as_type_data_and_timestamp(
    daemon: Daemon,
) -> None:
    async with open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, daemon.token(["user:42"]))
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "user:42"}))
        assert (await frame(ws))["type"] == "subscribed"
        bid = await broadcast(
            daemon,
            {"channel": "websocket", "topic": "user:42"},
            occurred_at="2026-11-30T12:00:00Z",
        )
        message = await frame(ws)
    assert message["data"] == {
        "type": "order.shipped",
        "data": {"order": 7},
        "timestamp": "2026-11-30T12:00:00Z",
    }
    result = await settled(daemon, bid)
    assert (result["successful"], result["failed"]) == (1, 0)
    assert result["details"][0]["status"] == "delivered"


async def test_a_webhook_target_is_posted_signed_with_the_endpoints_secret(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    bid = await broadcast(daemon, {"channel": "webhook", "endpoint": created["id"]})
    await settled(daemon, bid)
    [seen] = receiver.seen("/hooks")
    verifier = StandardVerifier([created["secret"]])
    verifier.verify(seen.headers, {}, seen.body, time.time())  # raises if the signature is off
    sent = json.loads(seen.body)
    assert (sent["event"], sent["data"]) == ("order.shipped", {"order": 7})


async def test_each_target_settles_on_its_own_like_all_settled(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    receiver.route("/down", Canned(503))
    down = await endpoint(daemon, f"{receiver.url}/down")
    up = await endpoint(daemon, f"{receiver.url}/up")
    bid = await broadcast(
        daemon,
        {"channel": "webhook", "endpoint": down["id"]},
        {"channel": "webhook", "endpoint": up["id"]},
    )
    result = await settled(daemon, bid)
    assert (result["successful"], result["failed"]) == (1, 1)
    failed, delivered = result["details"]
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert "503" in failed["last_error"]
    assert delivered["status"] == "delivered"


async def test_a_webhook_target_without_an_endpoint_goes_to_every_endpoint_taking_its_type(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    await endpoint(daemon, f"{receiver.url}/orders", event_types=["order.shipped"])
    await endpoint(daemon, f"{receiver.url}/all")
    await endpoint(daemon, f"{receiver.url}/users", event_types=["user.created"])
    bid = await broadcast(daemon, {"channel": "webhook"})
    result = await settled(daemon, bid)
    assert result["successful"] == 2
    assert sorted(r.path for r in receiver.requests) == ["/all", "/orders"]


async def test_a_target_naming_an_unknown_endpoint_is_refused_and_nothing_is_stored(
    daemon: Daemon,
) -> None:
    body = {
        "event": {"type": "order.shipped", "payload": {}, "id": "evt_unknown"},
        "targets": [{"channel": "webhook", "endpoint": "ep_nothere"}],
    }
    answer = await call(daemon, "POST", "/v1/broadcasts", body)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["at"] == "$.targets[0]"


async def test_an_email_target_is_refused_while_email_is_not_configured(daemon: Daemon) -> None:
    body = {
        "event": {"type": "order.shipped", "payload": {}},
        "targets": [{"channel": "email", "to": "ada@example.com", "template": "d-1"}],
    }
    answer = await call(daemon, "POST", "/v1/broadcasts", body)
    assert answer.status_code == 422
    assert "email channel is not configured" in answer.text


async def test_the_same_event_id_twice_is_one_broadcast(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    target = {"channel": "webhook", "endpoint": created["id"]}
    first = await broadcast(daemon, target, id="order-7-shipped")
    second = await broadcast(daemon, target, id="order-7-shipped")
    assert first == second
    await settled(daemon, first)
    assert len(receiver.seen("/hooks")) == 1


async def test_an_unknown_broadcast_is_a_404(daemon: Daemon) -> None:
    answer = await call(daemon, "GET", "/v1/broadcasts/bc_0123")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"


@asynccontextmanager
async def emailing(tmp_path: Path, sendgrid: FakeProvider) -> AsyncIterator[Daemon]:
    """A daemon whose email channel sends through ``sendgrid``."""
    async with trio.open_nursery() as nursery:
        await nursery.start(sendgrid.serve)
        providers = {"sendgrid": {"base_url": sendgrid.url, "secret_env": "SENDGRID_API_KEY"}}
        async with run_daemon(
            tmp_path,
            providers=providers,
            env={"SENDGRID_API_KEY": "SG.test-key"},
            email_from="hello@shop.example",
            **FAST,
        ) as daemon:
            yield daemon
        nursery.cancel_scope.cancel()


async def test_an_email_target_is_sent_through_sendgrid_with_its_template(
    tmp_path: Path,
) -> None:
    sendgrid = FakeProvider(Canned(202, headers={"x-message-id": "msg_1"}))
    async with emailing(tmp_path, sendgrid) as daemon:
        target = {"channel": "email", "to": "ada@example.com", "template": "d-13b8"}
        result = await settled(daemon, await broadcast(daemon, target))
    assert result["successful"] == 1
    [sent] = sendgrid.seen("/v3/mail/send")
    assert sent.headers["authorization"] == "Bearer SG.test-key"
    assert sent.json()["template_id"] == "d-13b8"
    assert sent.json()["personalizations"] == [
        {"to": [{"email": "ada@example.com"}], "dynamic_template_data": {"order": 7}}
    ]


async def test_an_email_sendgrid_refuses_fails_its_target_without_retrying(
    tmp_path: Path,
) -> None:
    sendgrid = FakeProvider(Canned(400, json={"errors": [{"message": "bad template"}]}))
    async with emailing(tmp_path, sendgrid) as daemon:
        target = {"channel": "email", "to": "ada@example.com", "template": "d-nope"}
        result = await settled(daemon, await broadcast(daemon, target))
    assert result["details"][0]["status"] == "failed"
    assert len(sendgrid.seen("/v3/mail/send")) == 1


async def test_an_occurred_at_without_a_time_zone_is_refused(daemon: Daemon) -> None:
    body = {
        "event": {"type": "t", "payload": {}, "occurred_at": "2026-11-30T12:00:00"},
        "targets": [{"channel": "websocket", "topic": "user:1"}],
    }
    answer = await call(daemon, "POST", "/v1/broadcasts", body)
    assert answer.status_code == 422


async def test_a_broadcast_too_large_for_its_targets_is_refused(daemon: Daemon) -> None:
    body = {
        "event": {"type": "t", "payload": {"blob": "x" * 400_000}},
        "targets": [{"channel": "websocket", "topic": f"user:{n}"} for n in range(100)],
    }
    answer = await call(daemon, "POST", "/v1/broadcasts", body)
    assert answer.status_code == 422
    assert "bytes to store" in answer.json()["error"]["message"]
