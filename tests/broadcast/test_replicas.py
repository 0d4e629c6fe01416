"""Two replicas on one redis-server: a websocket client gets what was broadcast on the
other replica, and what it missed from the history kept in Redis, wherever it comes back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from trio_websocket import open_websocket_url

from olactors.broadcast import WEBSOCKET_HUB, Remote
from olactors.testing import RedisServer

from .support import Daemon, broadcast, connected, frame, run_daemon, settled


@asynccontextmanager
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Daemon]]:
    with RedisServer(tmp_path / "redis") as redis_server:
        store = {"backend": "redis", "redis_url": redis_server.url, "redis_prefix": "shop"}
        async with (
            run_daemon(tmp_path / "a", store=store) as a,
            run_daemon(tmp_path / "b", store=store) as b,
        ):
            yield a, b


async def subscribed(ws: object, daemon: Daemon, topic: str, offset: int | None = None) -> int:
    await connected(ws, daemon.token([topic]))  # type: ignore[arg-type]
    ask = {"type": "subscribe", "topic": topic, **({"offset": offset} if offset else {})}
    await ws.send_message(json.dumps(ask))  # type: ignore[attr-defined]
    answer = await frame(ws)  # type: ignore[arg-type]
    assert answer["type"] == "subscribed"
    return int(answer["offset"])


async def test_a_client_on_one_replica_gets_what_was_broadcast_on_the_other(
    tmp_path: Path,
) -> None:
    async with replicas(tmp_path) as (a, b):
        async with open_websocket_url(a.ws_url) as ws:
            last = await subscribed(ws, a, "user:42")
            bid = await broadcast(b, {"channel": "websocket", "topic": "user:42"})
            message = await frame(ws)
        await settled(b, bid)
    assert message["offset"] == last + 1
    assert message["data"]["data"] == {"order": 7}


async def test_a_client_back_on_another_replica_gets_what_it_missed_in_order(
    tmp_path: Path,
) -> None:
    async with replicas(tmp_path) as (a, b):
        async with open_websocket_url(a.ws_url) as ws:
            await subscribed(ws, a, "user:42")
            await settled(b, await broadcast(b, {"channel": "websocket", "topic": "user:42"}))
            seen = (await frame(ws))["offset"]
        for n in (1, 2):
            target = {"channel": "websocket", "topic": "user:42"}
            await settled(a, await broadcast(a, target, payload={"n": n}))
        async with open_websocket_url(b.ws_url) as ws:
            await subscribed(ws, b, "user:42", offset=seen)
            missed = [await frame(ws), await frame(ws)]
    assert [m["data"]["data"] for m in missed] == [{"n": 1}, {"n": 2}]
    assert [m["offset"] for m in missed] == [seen + 1, seen + 2]


async def test_a_gap_in_the_offsets_heard_is_told_to_the_client(tmp_path: Path) -> None:
    async with replicas(tmp_path) as (a, _), open_websocket_url(a.ws_url) as ws:
        last = await subscribed(ws, a, "user:42")
        # As if the frame at last + 1 was lost between Redis and this hub.
        frame_bytes = b'{"type":"message","topic":"user:42","offset":%d,"data":{}}' % (last + 2)
        a.system.actor_ref(WEBSOCKET_HUB).tell_nowait(Remote("user:42", last + 2, frame_bytes))
        told = [await frame(ws), await frame(ws)]
    assert told[0] == {"type": "history_lost", "topic": "user:42"}
    assert told[1]["offset"] == last + 2
