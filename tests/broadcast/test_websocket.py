"""Websocket subscribers on /ws, with a real client (trio-websocket) over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from olactors.broadcast import WEBSOCKET_HUB, SubscriberTokens

from .support import API_KEY, Daemon, closed_with, connected, frame, run_daemon


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with run_daemon(tmp_path) as running:
        yield running


async def test_a_subscriber_gets_each_message_of_its_topic_with_its_offset(daemon: Daemon) -> None:
    async with open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, daemon.token(["user:42"]))
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "user:42"}))
        subscribed = await frame(ws)
        assert subscribed["type"] == "subscribed"
        offset = await daemon.publish("user:42", {"type": "order.paid", "data": {"id": 7}})
        await daemon.publish("user:7", {"type": "not.for.this.client"})
        message = await frame(ws)
    assert message == {
        "type": "message",
        "topic": "user:42",
        "offset": offset,
        "data": {"type": "order.paid", "data": {"id": 7}},
    }
    assert offset == subscribed["offset"] + 1


async def test_the_token_comes_in_the_first_frame_or_the_connection_closes(
    daemon: Daemon,
) -> None:
    async with open_websocket_url(daemon.ws_url) as ws:
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "user:42"}))
        code, reason = await closed_with(ws)
    assert code == 1008
    assert "connect" in reason


async def test_a_token_signed_with_another_key_is_refused(daemon: Daemon) -> None:
    forged = SubscriberTokens(b"x" * 40, time.time).mint("42", ["user:42"], 60)[0]
    async with open_websocket_url(daemon.ws_url) as ws:
        await ws.send_message(json.dumps({"type": "connect", "token": forged}))
        assert await closed_with(ws) == (1008, "the token's signature does not match")


async def test_a_topic_the_token_does_not_name_is_refused_and_the_connection_stays(
    daemon: Daemon,
) -> None:
    async with open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, daemon.token(["user:42"]))
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "user:7"}))
        assert await frame(ws) == {"type": "error", "message": "not allowed: user:7"}
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "user:42"}))
        assert (await frame(ws))["type"] == "subscribed"


async def test_a_client_back_with_its_last_offset_gets_what_it_missed_in_order(
    daemon: Daemon,
) -> None:
    token = daemon.token(["news"])
    seen = await daemon.publish("news", {"n": 1})
    missed = [await daemon.publish("news", {"n": n}) for n in (2, 3)]
    async with open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, token)
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "news", "offset": seen}))
        assert await frame(ws) == {"type": "subscribed", "topic": "news", "offset": missed[-1]}
        caught_up = [await frame(ws) for _ in missed]
        live = await daemon.publish("news", {"n": 4})
        after = await frame(ws)
    assert [(m["offset"], m["data"]["n"]) for m in caught_up] == [(missed[0], 2), (missed[1], 3)]
    assert (after["offset"], after["data"]["n"]) == (live, 4)


async def test_a_client_whose_offset_is_no_longer_kept_is_told_its_history_is_lost(
    tmp_path: Path,
) -> None:
    async with run_daemon(tmp_path, history_size=2) as daemon:
        first = await daemon.publish("news", {"n": 1})
        for n in (2, 3, 4):
            await daemon.publish("news", {"n": n})
        async with open_websocket_url(daemon.ws_url) as ws:
            await connected(ws, daemon.token(["news"]))
            subscribe = {"type": "subscribe", "topic": "news", "offset": first}
            await ws.send_message(json.dumps(subscribe))
            assert (await frame(ws))["type"] == "subscribed"
            assert await frame(ws) == {"type": "history_lost", "topic": "news"}


async def test_an_offset_from_before_a_restart_is_history_lost_not_wrong_messages(
    daemon: Daemon,
) -> None:
    before = await daemon.publish("news", {"n": 1})
    await daemon.system.supervisor("/root/broadcast").restart_child("websocket")
    await daemon.publish("news", {"n": "after the restart"})
    async with open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, daemon.token(["news"]))
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "news", "offset": before}))
        assert (await frame(ws))["type"] == "subscribed"
        assert await frame(ws) == {"type": "history_lost", "topic": "news"}


async def test_a_client_too_slow_for_its_buffer_is_closed_with_1008(tmp_path: Path) -> None:
    async with (
        run_daemon(tmp_path, send_buffer=8) as daemon,
        open_websocket_url(daemon.ws_url, message_queue_size=1) as ws,
    ):
        await connected(ws, daemon.token(["firehose"]))
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "firehose"}))
        assert (await frame(ws))["type"] == "subscribed"
        # The client reads nothing more: far more than the socket buffers
        # and the send buffer hold together.
        for n in range(2000):
            await daemon.publish("firehose", {"n": n, "pad": "x" * 8000})
        hub = daemon.system.actor_snapshot(WEBSOCKET_HUB).state
        assert hub["disconnected_slow"] == 1
        assert await closed_with(ws) == (1008, "too slow: send buffer full")


async def test_an_idle_client_gets_heartbeats(tmp_path: Path) -> None:
    async with (
        run_daemon(tmp_path, heartbeat_s=0.05) as daemon,
        open_websocket_url(daemon.ws_url) as ws,
    ):
        await connected(ws, daemon.token(["news"]))
        with trio.fail_after(10):
            assert json.loads(await ws.get_message()) == {"type": "ping"}


async def test_clients_are_told_the_server_is_stopping(tmp_path: Path) -> None:
    async with run_daemon(tmp_path) as daemon, open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, daemon.token(["news"]))
        daemon.system.shutdown()
        assert await closed_with(ws) == (1001, "the server is stopping")


async def test_a_token_from_the_app_api_opens_a_subscription(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.api_url) as client:
        minted = await client.post(
            "/v1/subscribers/42/tokens",
            json={"topics": ["user:42"]},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
    async with open_websocket_url(daemon.ws_url) as ws:
        await connected(ws, minted.json()["token"])
        await ws.send_message(json.dumps({"type": "subscribe", "topic": "user:42"}))
        assert (await frame(ws))["type"] == "subscribed"


async def test_plain_http_at_the_websocket_path_is_told_to_upgrade(daemon: Daemon) -> None:
    url = daemon.ws_url.replace("ws://", "http://")
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert answer.status_code == 426
