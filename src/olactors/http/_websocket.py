"""Websocket connections served by trio-websocket, behind the same ASGI apps.

Hypercorn speaks websocket too, but each frame goes through its ASGI event
machinery (an event object, a protocol hop, a send lock) before the socket:
fanned out to thousands of clients, that is half the throughput of a bare
trio-websocket loop (``scripts/bench_broadcast.py``). So a connection whose
first request asks to upgrade to websocket is handed to trio-websocket
(wsproto underneath) instead, and its ASGI app is driven through
:class:`_AsgiOverWebsocket`: the same ``(scope, receive, send)`` contract, the
same prefix dispatcher and apps. Every other connection, and an upgrade on a
connection that already served requests, stays with hypercorn.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import unquote

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    wrap_server_stream,
)

log = logging.getLogger("olactors.http")

#: The most a request head may take before it is looked at (hypercorn's
#: own limit applies to what it serves).
MAX_HEAD_BYTES = 16 * 1024
#: Client frames waiting to be read by the app.
_INBOX = 16


class Replay(trio.abc.HalfCloseableStream):
    """A stream that gives back what was already read from it, then reads on."""

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        self._stream = stream
        self._head = head
        self.socket = stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._head:
            size = len(self._head) if max_bytes is None else max_bytes
            chunk, self._head = self._head[:size], self._head[size:]
            await trio.lowlevel.checkpoint()
            return chunk
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def read_head(stream: trio.SocketStream, timeout_s: float) -> bytes | None:
    """What the client sent first, up to the end of its request head (or less: at the
    size limit, or the end of the stream); None if the head did not come in time (the
    header deadline hypercorn would have held it to)."""
    head = b""
    with trio.move_on_after(timeout_s):
        while b"\r\n\r\n" not in head and len(head) < MAX_HEAD_BYTES:
            try:
                chunk = await stream.receive_some(MAX_HEAD_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return head
            if not chunk:
                return head
            head += chunk
        return head
    return None


def asks_for_websocket(head: bytes) -> bool:
    """True for a complete HTTP/1.1 GET head with ``Upgrade: websocket``."""
    end = head.find(b"\r\n\r\n")
    if end < 0 or not head.startswith(b"GET "):
        return False
    for line in head[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and value.strip().lower() == b"websocket":
            return True
    return False


async def serve_websocket(app: Any, stream: Replay, timeout_s: float) -> None:
    """Do the handshake with trio-websocket and run ``app`` for the connection."""
    async with trio.open_nursery() as nursery:
        request: WebSocketRequest | None = None
        with trio.move_on_after(timeout_s):
            request = await wrap_server_stream(nursery, stream, message_queue_size=_INBOX)
        if request is not None:
            adapter = _AsgiOverWebsocket(request, stream)
            try:
                await app(adapter.scope(stream), adapter.receive, adapter.send)
            except Exception:
                # As hypercorn does: one connection's failure is logged, the
                # listener serves on.
                log.exception("websocket %s: the app failed", request.path)
            finally:
                await adapter.finish()
        nursery.cancel_scope.cancel()  # trio-websocket's reader task


class _AsgiOverWebsocket:
    """The ASGI websocket contract over one trio-websocket connection."""

    def __init__(self, request: WebSocketRequest, stream: Replay) -> None:
        self._request = request
        self._stream = stream
        self._ws: WebSocketConnection | None = None
        self._connected = False
        self._closed = False
        self._midframe = False

    def scope(self, stream: Replay) -> dict[str, Any]:
        target = self._request.path
        path, _, query = target.partition("?")
        local = stream.socket.getsockname()
        remote = stream.socket.getpeername()
        return {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in self._request.headers],
            "client": (remote[0], remote[1]),
            "server": (local[0], local[1]),
            "subprotocols": [],
            "extensions": {},
        }

    async def receive(self) -> dict[str, Any]:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        if self._ws is None or self._closed:
            await trio.sleep_forever()  # as hypercorn: nothing more comes
        assert self._ws is not None
        try:
            message = await self._ws.get_message()
        except ConnectionClosed as exc:
            self._closed = True
            code = exc.reason.code if exc.reason is not None else 1006
            return {"type": "websocket.disconnect", "code": code}
        key = "text" if isinstance(message, str) else "bytes"
        return {"type": "websocket.receive", key: message}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self._ws = await self._request.accept()
        elif kind == "websocket.send":
            if self._ws is None or self._closed:
                return  # gone: the app hears it as a disconnect from receive()
            payload = message.get("text")
            await self._frame(self._ws, payload if payload is not None else message["bytes"])
        elif kind == "websocket.close":
            if self._ws is None:
                await self._request.reject(403)
            elif self._midframe:
                self._closed = True
                await trio.aclose_forcefully(self._stream)
            elif not self._closed:
                self._closed = True
                with contextlib.suppress(ConnectionClosed):
                    await self._ws.aclose(message.get("code", 1000), message.get("reason"))

    async def _frame(self, ws: WebSocketConnection, payload: str | bytes) -> None:
        # Cancelled before the frame was all out, the stream is left mid-frame:
        # nothing may follow on it (an app that must finish a frame shields it).
        self._midframe = True
        try:
            await ws.send_message(payload)
        except ConnectionClosed:
            self._closed = True
        self._midframe = False

    async def finish(self) -> None:
        """After the app: a connection it left open is closed normally."""
        if self._midframe:
            await trio.aclose_forcefully(self._stream)
        elif self._ws is not None and not self._closed:
            self._closed = True
            with contextlib.suppress(ConnectionClosed), trio.move_on_after(1.0):
                await self._ws.aclose(1000)
