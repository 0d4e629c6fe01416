"""Websocket connections served by trio-websocket, behind the same ASGI apps.

Hypercorn speaks websocket too, but each frame goes through its ASGI event
machinery (an event object, a protocol hop, a send lock) before the socket:
fanned out to thousands of clients, that is half the throughput of a bare
trio-websocket loop (``scripts/bench_broadcast.py``). So a connection whose
first request is a well-formed websocket upgrade is handed to trio-websocket
(wsproto underneath) instead, and its ASGI app is driven through
:class:`_AsgiOverWebsocket`: the same ``(scope, receive, send)`` contract, the
same prefix dispatcher and apps. Every other connection, and an upgrade on a
connection that already served requests, stays with hypercorn.
"""

from __future__ import annotations

import contextlib
import logging
import re
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
#: Where a request head ends, as h11 reads it (a bare LF is allowed).
_HEAD_END = re.compile(rb"\n\r?\n")
#: Client frames waiting to be read by the app.
_INBOX = 16
#: The longest an app's close frame (or the one after the app) may take.
_CLOSE_S = 5.0
#: Close codes when the app failed: after its accept, and before it (an HTTP status).
_APP_FAILED, _APP_FAILED_STATUS = 1011, 500


class Wrapped(trio.abc.HalfCloseableStream):
    """A connection's stream around another: everything passes through, unless a
    subclass says otherwise. ``socket`` is the connection's (for its addresses)."""

    def __init__(self, stream: trio.SocketStream | Wrapped) -> None:
        self._stream = stream
        self.socket: trio.socket.SocketType = stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


class Replay(Wrapped):
    """A stream that gives back what was already read from it, then reads on."""

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        super().__init__(stream)
        self._head = head

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._head:
            size = len(self._head) if max_bytes is None else max_bytes
            chunk, self._head = self._head[:size], self._head[size:]
            await trio.lowlevel.checkpoint()
            return chunk
        return await self._stream.receive_some(max_bytes)


async def read_head(stream: trio.SocketStream, timeout_s: float) -> bytes | None:
    """What the client sent first, up to the end of its request head (or less: at the
    size limit, or the end of the stream); None if the head did not come in time (the
    header deadline hypercorn would have held it to)."""
    head = b""
    with trio.move_on_after(timeout_s):
        while not _HEAD_END.search(head) and len(head) < MAX_HEAD_BYTES:
            try:
                chunk = await stream.receive_some(MAX_HEAD_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return head
            if not chunk:
                return head
            head += chunk
        return head
    return None


def _fields(head: bytes) -> list[tuple[bytes, bytes]] | None:
    """The head's header fields, names lowercased; None unless it is a complete GET head
    in the plain form (no folded lines, each line a name and a value)."""
    found = _HEAD_END.search(head)
    if found is None or not head.startswith(b"GET "):
        return None
    lines = head[: found.start()].replace(b"\r\n", b"\n").split(b"\n")
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            return None  # obs-fold, or no field at all: hypercorn decides
        fields.append((name.lower(), value.strip()))
    return fields


def asks_for_websocket(head: bytes) -> bool:
    """True for a GET head that asks for a websocket as RFC 6455 has it: ``Upgrade:
    websocket``, an ``upgrade`` token in ``Connection``, a key, version 13. Anything
    less goes to hypercorn, which answers it as it always has."""
    fields = _fields(head)
    if fields is None:
        return False
    values: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        values.setdefault(name, []).append(value.lower())
    connection = {t.strip() for v in values.get(b"connection", []) for t in v.split(b",")}
    return (
        values.get(b"upgrade") == [b"websocket"]
        and b"upgrade" in connection
        and len(values.get(b"sec-websocket-key", [])) == 1
        and values.get(b"sec-websocket-version") == [b"13"]
    )


async def serve_websocket(app: Any, stream: Replay, head: bytes, timeout_s: float) -> None:
    """Do the handshake with trio-websocket and run ``app`` for the connection.

    Whatever fails here (a handshake wsproto refuses, a reset, the app) ends
    this connection alone, logged: it never reaches the listener.
    """
    try:
        async with trio.open_nursery() as nursery:
            request: WebSocketRequest | None = None
            with trio.move_on_after(timeout_s):
                request = await wrap_server_stream(nursery, stream, message_queue_size=_INBOX)
            if request is not None:
                adapter = _AsgiOverWebsocket(request, stream, _fields(head) or [])
                failed = False
                try:
                    await app(adapter.scope(), adapter.receive, adapter.send)
                except Exception:
                    # As hypercorn does: logged, and the client told (1011 or 500).
                    failed = True
                    log.exception("websocket %s: the app failed", request.path)
                finally:
                    await adapter.finish(failed=failed)
            nursery.cancel_scope.cancel()  # trio-websocket's reader task
    except Exception:
        log.warning("websocket connection ended by an error", exc_info=True)


class _AsgiOverWebsocket:
    """The ASGI websocket contract over one trio-websocket connection."""

    def __init__(
        self, request: WebSocketRequest, stream: Replay, fields: list[tuple[bytes, bytes]]
    ) -> None:
        self._request = request
        self._stream = stream
        self._fields = fields
        self._ws: WebSocketConnection | None = None
        self._connected = False
        self._closed = False
        self._midframe = False

    def scope(self) -> dict[str, Any]:
        target = self._request.path
        path, _, query = target.partition("?")
        local = self._stream.socket.getsockname()
        remote = self._stream.socket.getpeername()
        offered = [
            p.strip().decode("latin-1")
            for name, value in self._fields
            if name == b"sec-websocket-protocol"
            for p in value.split(b",")
            if p.strip()
        ]
        return {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": list(self._fields),
            "client": (remote[0], remote[1]),
            "server": (local[0], local[1]),
            "subprotocols": offered,
            "extensions": {},
        }

    async def receive(self) -> dict[str, Any]:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        if self._ws is None:
            await trio.sleep_forever()  # not accepted: nothing can come
        assert self._ws is not None
        try:
            # Also once closed: it raises at once, with the close code.
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
            self._ws = await self._request.accept(
                subprotocol=message.get("subprotocol"),
                extra_headers=list(message.get("headers") or []),
            )
        elif kind == "websocket.send":
            if self._ws is None or self._closed:
                return  # gone: the app hears it as a disconnect from receive()
            payload = message.get("text")
            await self._frame(self._ws, payload if payload is not None else message["bytes"])
        elif kind == "websocket.close":
            await self._close(message.get("code", 1000), message.get("reason"))

    async def _frame(self, ws: WebSocketConnection, payload: str | bytes) -> None:
        # Cancelled before the frame was all out, the stream is left mid-frame:
        # nothing may follow on it (an app that must finish a frame shields it).
        self._midframe = True
        try:
            await ws.send_message(payload)
        except ConnectionClosed:
            self._closed = True
        self._midframe = False

    async def _close(self, code: int, reason: str | None) -> None:
        """A close frame, bounded: a client that stopped reading (or never answers the
        close) has its connection dropped instead."""
        if self._ws is None:
            with trio.move_on_after(_CLOSE_S):
                await self._request.reject(403 if code != _APP_FAILED else _APP_FAILED_STATUS)
            return
        if self._closed:
            return
        self._closed = True
        if not self._midframe:
            with trio.move_on_after(_CLOSE_S), contextlib.suppress(ConnectionClosed):
                await self._ws.aclose(code, reason)
                return
        await trio.aclose_forcefully(self._stream)

    async def finish(self, *, failed: bool) -> None:
        """After the app: a connection it left open is closed (1011 if it failed)."""
        if self._ws is None and not failed:
            return
        await self._close(_APP_FAILED if failed else 1000, None)
