"""Websocket connections through the listener: trio-websocket for a connection's first
request, hypercorn after other requests; one connection's failure never stops the rest."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from olactors.http import EdgeLimits, PrefixDispatcher, hypercorn_config, serve


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers each text frame with the path and the frame; "boom" raises."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (event := await receive())["type"] == "websocket.receive":
        if event["text"] == "boom":
            raise RuntimeError("a bug in one connection's handler")
        await send({"type": "websocket.send", "text": f"{scope['path']} {event['text']}"})


@pytest.fixture
async def url() -> AsyncIterator[str]:
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        config = hypercorn_config("127.0.0.1:0", graceful_timeout_s=1.0, header_timeout_s=5.0)
        app = PrefixDispatcher({"/ws": echo})
        binds = await nursery.start(
            partial(
                serve,
                app,
                config,
                EdgeLimits(websockets=True),
                name="t",
                shutdown_trigger=stop.wait,
            )
        )
        yield binds[0].replace("http://", "ws://")
        stop.set()


async def test_a_websocket_is_served_behind_the_same_asgi_app(url: str) -> None:
    async with open_websocket_url(f"{url}/ws?x=1") as ws:
        await ws.send_message("hello")
        with trio.fail_after(10):  # a hang guard
            assert await ws.get_message() == "/ws hello"


async def test_a_failing_websocket_handler_closes_with_1011_and_the_listener_serves_on(
    url: str,
) -> None:
    async with open_websocket_url(f"{url}/ws") as broken:
        await broken.send_message("boom")
        with trio.fail_after(10), pytest.raises(ConnectionClosed) as closed:
            await broken.get_message()
        # trio-websocket 0.12 leaves its TCP stream open when the server closes
        # first: close it.
        await broken._stream.aclose()
    assert closed.value.reason is not None
    assert closed.value.reason.code == 1011
    async with open_websocket_url(f"{url}/ws") as ws:
        await ws.send_message("still here")
        with trio.fail_after(10):
            assert await ws.get_message() == "/ws still here"


async def test_an_upgrade_after_a_plain_request_on_one_connection_is_still_served(
    url: str,
) -> None:
    host, port = url.removeprefix("ws://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(b"GET /ws HTTP/1.1\r\nhost: x\r\n\r\n")
        answer = await _read_until(stream, b"plain\r\n0\r\n\r\n")  # chunked
        assert answer.startswith(b"HTTP/1.1 200")
        key = base64.b64encode(secrets.token_bytes(16))
        await stream.send_all(
            b"GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
            b"sec-websocket-version: 13\r\nsec-websocket-key: " + key + b"\r\n\r\n"
        )
        switched = await _read_until(stream, b"\r\n\r\n")
    assert switched.startswith(b"HTTP/1.1 101")


async def _read_until(stream: trio.SocketStream, marker: bytes) -> bytes:
    received = b""
    with trio.fail_after(10):  # a hang guard
        while marker not in received:
            received += await stream.receive_some(65536)
    return received


async def test_an_upgrade_wsproto_cannot_decode_never_takes_the_listener_down(url: str) -> None:
    host, port = url.removeprefix("ws://").split(":")
    async with await trio.open_tcp_stream(host, int(port)) as stream:
        key = base64.b64encode(secrets.token_bytes(16))
        await stream.send_all(
            b"GET /ws HTTP/1.1\r\nhost: \xff\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
            b"sec-websocket-version: 13\r\nsec-websocket-key: " + key + b"\r\n\r\n"
        )
        with trio.move_on_after(10):  # a hang guard: the server answers or hangs up
            while await stream.receive_some(65536):
                pass
    async with open_websocket_url(f"{url}/ws") as ws:
        await ws.send_message("after")
        with trio.fail_after(10):
            assert await ws.get_message() == "/ws after"


async def test_a_get_with_upgrade_but_no_connection_upgrade_is_plain_http(url: str) -> None:
    host, port = url.removeprefix("ws://").split(":")
    async with await trio.open_tcp_stream(host, int(port)) as stream:
        await stream.send_all(b"GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\n\r\n")
        answer = await _read_until(stream, b"plain")
    assert answer.startswith(b"HTTP/1.1 200")
