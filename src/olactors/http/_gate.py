"""Backpressure for a streamed request body: Quart pulls every chunk the server has into
the request's buffer as fast as it comes, whether the handler keeps up or not. For the
paths named here, the ASGI ``receive`` is gated instead: past ``limit`` bytes taken and
not yet read by the handler, the next chunk waits (and with it the socket, so the client
slows down). The handler reads through :func:`gated_chunks`, which opens the gate."""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Mapping,
)
from typing import Any

import trio

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where the gate rides in the ASGI scope, for the handler to find it.
GATE = "olactors.body_gate"


class BodyGate:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffered = 0
        self._room = trio.Event()

    def taken(self, size: int) -> None:
        """``size`` bytes came from the server into the buffer."""
        self.buffered += size

    def read(self, size: int) -> None:
        """The handler read ``size`` bytes out of the buffer."""
        self.buffered -= size
        if self.buffered < self.limit:
            self._room.set()

    async def room(self) -> None:
        while self.buffered >= self.limit:
            self._room = trio.Event()
            await self._room.wait()


def gate_bodies(app: Any, paths: Collection[tuple[str, str]], limit: int) -> Asgi:
    """``app``, with the bodies of requests to (method, path) in ``paths`` gated."""

    async def gated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or (scope.get("method"), scope.get("path")) not in paths:
            await app(scope, receive, send)
            return
        gate = BodyGate(limit)

        async def receive_gated() -> Message:
            await gate.room()
            message = await receive()
            gate.taken(len(message.get("body", b"")))
            return message

        await app({**scope, GATE: gate}, receive_gated, send)

    return gated


class BodyIdle(Exception):
    """The client sent nothing for too long in the middle of its body."""


async def gated_chunks(
    body: AsyncIterable[bytes], scope: Mapping[str, Any], *, idle_s: float
) -> AsyncIterator[bytes]:
    """The body's chunks, each one telling the gate (if there is one) it was read;
    BodyIdle when the next one does not come within ``idle_s``."""
    gate = scope.get(GATE)
    chunks = aiter(body)
    while True:
        chunk: bytes | None = None
        # Never a yield inside the cancel scope: the consumer runs between yields.
        with trio.move_on_after(idle_s):
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
        if chunk is None:
            raise BodyIdle(f"no part of the body came for {idle_s:g} s")
        if isinstance(gate, BodyGate):
            gate.read(len(chunk))
        yield chunk
