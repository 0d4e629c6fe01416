"""A streamed body's gate: past its limit unread, the server's next chunk waits."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from olactors.http import gate_bodies, gated_chunks

CHUNK = b"x" * 512 * 1024


async def test_a_body_its_handler_does_not_read_is_not_pulled_past_the_limit() -> None:
    pulled = 0
    release = trio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": CHUNK, "more_body": True}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def pull_all() -> None:  # what Quart does with every request's body
            while True:
                await receive()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pull_all)
            await release.wait()
            nursery.cancel_scope.cancel()

    gated = gate_bodies(app, {("POST", "/v1/files")}, limit=1024 * 1024)
    scope = {"type": "http", "method": "POST", "path": "/v1/files"}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gated, scope, receive, None)
        await trio.testing.wait_all_tasks_blocked()
        assert pulled == 2  # 1 MiB buffered: the third waits for the handler
        release.set()


async def test_reading_the_body_lets_the_next_chunk_come() -> None:
    sent = [CHUNK, CHUNK, CHUNK, b""]
    read: list[int] = []

    async def receive() -> dict[str, Any]:
        body = sent.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(sent)}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def body() -> Any:
            while True:
                message = await receive()
                yield message["body"]
                if not message["more_body"]:
                    return

        async for chunk in gated_chunks(body(), scope, idle_s=10):
            read.append(len(chunk))

    gated = gate_bodies(app, {("POST", "/v1/files")}, limit=1024 * 1024)
    with trio.fail_after(10):
        await gated({"type": "http", "method": "POST", "path": "/v1/files"}, receive, None)
    assert read == [len(CHUNK)] * 3 + [0]
