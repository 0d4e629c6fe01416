"""Hypercorn's HTTP/1.1 machinery behind an accept loop of our own.

``hypercorn.trio.serve`` accepts every connection it is offered and speaks
HTTP/2 over cleartext to anybody who asks. Behind a load balancer the daemon
wants neither: past ``max_connections`` a new connection is answered 503 and
closed (so the admin listener, the store and outgoing calls keep their file
descriptors), and HTTP/2 without TLS (prior knowledge or an ``Upgrade: h2c``)
is refused unless configured. Each connection is still served by hypercorn's
own ``TCPServer``, with its header and keep-alive timeouts, except a
websocket upgrade as a connection's first request: trio-websocket serves it
(``_websocket.py``), behind the same ASGI app.

This leans on hypercorn's worker pieces (``TCPServer``, ``Lifespan``,
``WorkerContext``), which is why ``pyproject.toml`` pins hypercorn's minor
version.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import repr_socket_addr, wrap_app

from .. import metrics
from ._websocket import Replay, Wrapped, asks_for_websocket, read_head, serve_websocket

log = logging.getLogger("olactors.http")

#: What accept() raises when the process or the kernel is out of descriptors
#: or buffers: wait a little and try again, as trio.serve_listeners does.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_RESOURCE_PAUSE_S = 0.1

_BUSY_BODY = b'{"status":"unavailable","error":"TooManyConnections"}'
#: The whole answer to a connection over the cap, written without reading a byte.
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)
#: How long a refused connection may take to accept its 503.
_REFUSAL_TIMEOUT_S = 1.0
#: Refusals answered at once; past it a connection is closed without a word.
#: The daemon keeps descriptors for them (see daemon.ensure_descriptors).
MAX_REFUSING = 64

_H2_PREFACE = b"PRI * HTTP/2.0"
_H2C_SWITCH = b"HTTP/1.1 101 "


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """What one listener holds at most, whether it speaks HTTP/2 in cleartext, and
    whether it serves websockets (each connection's first head is then read ahead,
    to hand an upgrade to trio-websocket)."""

    max_connections: int = 1000
    http2_cleartext: bool = False
    websockets: bool = False

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")


def served_address(sock: socket.socket) -> str:
    """The URL a bound listener socket serves, as the listeners log it."""
    return f"http://{repr_socket_addr(sock.family, sock.getsockname())}"


async def serve(
    app: Any,
    config: HypercornConfig,
    limits: EdgeLimits,
    *,
    name: str,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``config.bind`` until ``shutdown_trigger`` returns, then drain.

    Reports the bound addresses (``http://host:port``) once listening. On
    shutdown it stops accepting, tells idle connections to close, and gives
    requests in flight ``config.graceful_timeout`` before cancelling them.
    """
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    state: dict[str, Any] = {}
    lifespan = Lifespan(wrapped, config, state)
    context = WorkerContext(None)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        sockets = config.create_sockets()
        listeners = []
        binds = []
        for sock in sockets.insecure_sockets:
            sock.listen(config.backlog)
            listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
            binds.append(served_address(sock))
        gate = _Gate(name, limits)

        #: Connections still waiting for their first request's head: closed at
        #: once when shutdown begins, as hypercorn closes idle connections.
        waiting: set[trio.CancelScope] = set()

        async def connection(stream: trio.SocketStream) -> None:
            try:
                served: trio.SocketStream | Wrapped = stream
                if limits.websockets:
                    head = None
                    with trio.CancelScope() as scope:
                        waiting.add(scope)
                        try:
                            head = await read_head(stream, config.keep_alive_timeout)
                        finally:
                            waiting.discard(scope)
                    if head is None:
                        return  # no head in time, or shutting down: closed, as hypercorn would
                    served = Replay(stream, head)
                    if asks_for_websocket(head):
                        await serve_websocket(app, served, head, config.keep_alive_timeout)
                        return
                guarded = served if limits.http2_cleartext else _Http1Only(served)
                await TCPServer(wrapped, config, context, ConnectionState(state.copy()), guarded)  # type: ignore[arg-type]
            finally:
                # Cancelled at the graceful deadline, hypercorn's own close can
                # stop at its first await and leave the socket open.
                await trio.aclose_forcefully(stream)
                gate.leave()

        async with trio.open_nursery() as connections:
            try:
                async with trio.open_nursery() as accepting:
                    for listener in listeners:
                        accepting.start_soon(_accept, listener, gate, connections, connection)
                    task_status.started(binds)
                    await shutdown_trigger()
                    accepting.cancel_scope.cancel()
            finally:
                for listener in listeners:
                    await trio.aclose_forcefully(listener)
            await context.terminated.set()
            for scope in list(waiting):
                scope.cancel()
            connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


class _Gate:
    """Counts a listener's open connections against its cap, and its refusals in progress."""

    def __init__(self, name: str, limits: EdgeLimits) -> None:
        self.name = name
        self.limit = limits.max_connections
        self.open = 0
        self.refusing = 0

    def enter(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        metrics.HTTP_CONNECTIONS.labels(self.name).set(self.open)
        return True

    def leave(self) -> None:
        self.open -= 1
        metrics.HTTP_CONNECTIONS.labels(self.name).set(self.open)


async def _accept(
    listener: trio.SocketListener,
    gate: _Gate,
    connections: trio.Nursery,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
) -> None:
    while True:
        try:
            stream = await listener.accept()
        except OSError as exc:
            if exc.errno not in _RESOURCE_ERRORS:
                raise
            log.warning("%s listener: accept failed (%s); pausing", gate.name, exc.strerror)
            await trio.sleep(_RESOURCE_PAUSE_S)
            continue
        if gate.enter():
            connections.start_soon(handler, stream)
            continue
        metrics.HTTP_REFUSED.labels(gate.name, "connections").inc()
        if gate.refusing >= MAX_REFUSING:
            # A flood: answering each would hold as many descriptors as serving it.
            await trio.aclose_forcefully(stream)
            continue
        gate.refusing += 1
        connections.start_soon(_refuse, stream, gate)


async def _refuse(stream: trio.SocketStream, gate: _Gate) -> None:
    """Answer 503 and close, never waiting on the client longer than a second.

    After the answer, what the client sent is read and dropped until it
    closes too (a lingering close): closing on unread bytes would reset the
    connection, and the client could lose the 503 before reading it.
    """
    with (
        trio.move_on_after(_REFUSAL_TIMEOUT_S),
        contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
    ):
        await stream.send_all(BUSY)
        await stream.send_eof()
        while await stream.receive_some(65536):
            pass
    await trio.aclose_forcefully(stream)
    gate.refusing -= 1


class _Http1Only(Wrapped):
    """A connection on which hypercorn may not switch to HTTP/2.

    HTTP/2 starts in one of two ways on cleartext: the client's first bytes
    are the HTTP/2 preface, or the server answers an ``Upgrade: h2c`` with
    101. The first is refused as it arrives; the second when hypercorn tries
    to send that 101 (a websocket's 101 says ``upgrade: websocket`` and
    passes). Either way the connection is closed.
    """

    def __init__(self, stream: trio.SocketStream | Wrapped) -> None:
        super().__init__(stream)
        #: The connection's first bytes, while they could still be the preface
        #: (a client may send it a byte at a time); None once they cannot.
        self._head: bytes | None = b""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self._stream.receive_some(max_bytes)
        if self._head is not None and data:
            # Passing a partial "PRI" on is harmless: HTTP/1.1 parsing cannot
            # act on a request line that is not complete.
            head = self._head + bytes(data[: len(_H2_PREFACE)])
            if head.startswith(_H2_PREFACE):
                await self._stream.aclose()
                raise trio.BrokenResourceError("HTTP/2 in cleartext is not enabled")
            self._head = head if _H2_PREFACE.startswith(head) else None
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        head = bytes(data[:512])
        if head.startswith(_H2C_SWITCH) and b"upgrade: h2c" in head.lower():
            await self._stream.aclose()
            raise trio.BrokenResourceError("HTTP/2 in cleartext is not enabled")
        await self._stream.send_all(data)
