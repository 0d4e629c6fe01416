"""The public listener's prefix dispatcher over real HTTP: each path to its app, 404 elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from olactors.http import EdgeLimits, Mount, PrefixDispatcher, hypercorn_config, mounted, serve


def answering(name: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = f"{name} {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
async def url() -> AsyncIterator[str]:
    dispatcher = PrefixDispatcher(
        {"/webhooks/": answering("webhooks"), "/webhooks/special/": answering("special")}
    )
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        config = hypercorn_config("127.0.0.1:0", graceful_timeout_s=1.0, header_timeout_s=5.0)
        binds = await nursery.start(
            partial(serve, dispatcher, config, EdgeLimits(), name="t", shutdown_trigger=stop.wait)
        )
        yield binds[0]
        stop.set()


async def test_each_path_goes_to_the_app_of_its_longest_prefix(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        plain = await client.post("/webhooks/stripe")
        special = await client.post("/webhooks/special/x")
    assert (plain.text, special.text) == (
        "webhooks /webhooks/stripe",
        "special /webhooks/special/x",
    )


async def test_a_path_no_prefix_serves_is_a_json_404(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/oauth/callback")
    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"


def test_a_prefix_must_be_a_path() -> None:
    with pytest.raises(ValueError, match="starts with /"):
        PrefixDispatcher({"webhooks/": answering("x")})


def test_two_capabilities_cannot_be_mounted_at_one_prefix() -> None:
    mounts = [
        Mount("/oauth/", lambda context, closing: answering("a")),
        Mount("/oauth/", lambda context, closing: answering("b")),
    ]
    with pytest.raises(ValueError, match="two capabilities mounted at one prefix"):
        mounted(mounts)
