"""A daemon in this process for the broadcast tests, and a websocket client's steps."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from olactors.broadcast import WEBSOCKET_HUB, Publish, SubscriberTokens
from olactors.config import Config
from olactors.runtime import ActorSystem
from olactors.tree import build_tree

#: Retries a moment apart: a failing target fails within a test.
FAST = {"retry_schedule_s": [0.01, 0.01]}

TOKEN_KEY = "subscriber-key-0123456789abcdef0123456789"
API_KEY = "app-key-0123456789abcdefghij"
ENV = {"OLACTORS_SUBSCRIBER_KEY": TOKEN_KEY, "OLACTORS_API_KEYS": API_KEY}


@dataclass
class Daemon:
    system: ActorSystem
    ws_url: str
    api_url: str

    async def publish(self, topic: str, data: dict[str, Any]) -> int:
        offset: int = await self.system.actor_ref(WEBSOCKET_HUB).ask(Publish(topic, data))
        return offset

    def token(self, topics: list[str], ttl_s: float = 600.0, user: str = "42") -> str:
        return SubscriberTokens(TOKEN_KEY.encode(), time.time).mint(user, topics, ttl_s)[0]


@asynccontextmanager
async def run_daemon(
    tmp_path: Path,
    *,
    providers: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    store: Mapping[str, Any] | None = None,
    **broadcast: object,
) -> AsyncIterator[Daemon]:
    config = Config.model_validate(
        {
            "store": store or {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "broadcast": broadcast,
            "providers": providers or {},
        }
    )
    system = ActorSystem(build_tree(config, {**ENV, **(env or {})}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        public = system.actor_snapshot("/root/http/public").state["addresses"][0]
        api = system.actor_snapshot("/root/http/api").state["addresses"][0]
        yield Daemon(system, public.replace("http://", "ws://") + "/ws", api)
        system.shutdown()


async def frame(ws: WebSocketConnection) -> dict[str, Any]:
    """The next frame that is not a heartbeat."""
    with trio.fail_after(10):  # a hang guard, not a timing assertion
        while True:
            received = json.loads(await ws.get_message())
            if received["type"] != "ping":
                return dict(received)


async def connected(ws: WebSocketConnection, token: str) -> None:
    await ws.send_message(json.dumps({"type": "connect", "token": token}))
    assert (await frame(ws))["type"] == "connected"


async def closed_with(ws: WebSocketConnection) -> tuple[int, str]:
    """How the server closed the connection (code, reason)."""

    async def drain() -> None:
        while True:
            await ws.get_message()

    with trio.fail_after(10), pytest.raises(ConnectionClosed) as caught:
        await drain()
    # trio-websocket 0.12 leaves its TCP stream open when the server closes
    # first (its aclose() returns early once a close reason is set): close it.
    await ws._stream.aclose()
    reason = caught.value.reason
    return reason.code, reason.reason or ""


async def call(daemon: Daemon, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=daemon.api_url) as client:
        return await client.request(
            method, path, json=body, headers={"authorization": f"Bearer {API_KEY}"}
        )


async def broadcast(daemon: Daemon, *targets: dict[str, Any], **event: Any) -> str:
    body = {
        "event": {"type": "order.shipped", "payload": {"order": 7}, **event},
        "targets": targets,
    }
    answer = await call(daemon, "POST", "/v1/broadcasts", body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def settled(daemon: Daemon, bid: str) -> dict[str, Any]:
    answer = await call(daemon, "GET", f"/v1/broadcasts/{bid}?wait=20")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    assert result["pending"] == 0, result
    return result


async def endpoint(daemon: Daemon, url: str, **fields: Any) -> dict[str, Any]:
    answer = await call(daemon, "POST", "/v1/endpoints", {"url": url, **fields})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created
