"""``GET /ws`` on the public listener: websocket clients, with the wire protocol of the README.

Client frames (JSON text)::

    {"type": "connect", "token": "st1...."}             first, within connect_timeout_s
    {"type": "subscribe", "topic": "user:42", "offset": 17}   offset optional
    {"type": "unsubscribe", "topic": "user:42"}

Server frames::

    {"type": "connected", "user": "42", "expires_at": ...}
    {"type": "subscribed", "topic": "user:42", "offset": 17}
    {"type": "message", "topic": "user:42", "offset": 18, "data": {...}}
    {"type": "history_lost", "topic": "user:42"}
    {"type": "ping"}                                     every heartbeat_s
    {"type": "error", "message": "..."}

The token travels in the first frame, never in the URL (proxies log URLs).
A connection closes with 1008 and a reason when it fails to connect, its
token expires, or it reads too slowly for its send buffer; with 1001 when
the daemon shuts down.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import trio

from ..runtime import ActorRef, Clock
from ..store import StoreError
from ._hub import Leave, Listener, Subscribe, Unsubscribe, text
from ._tokens import InvalidToken, SubscriberClaims, SubscriberTokens

log = logging.getLogger("olactors.broadcast")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

POLICY = 1008  #: the close code for a client we will not (or no longer) serve
GOING_AWAY = 1001
#: The longest the last frame may take to go out once a connection ends (a
#: client that stopped reading); past it the connection is dropped.
FRAME_S = 5.0


class _Frame(msgspec.Struct):
    type: str
    token: str = ""
    topic: str = ""
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class SocketSettings:
    send_buffer: int = 256
    heartbeat_s: float = 25.0
    connect_timeout_s: float = 10.0
    max_frame_bytes: int = 4096


class SubscriberSocket:
    """The ASGI app behind ``/ws``: one task group per connection, for as long as it lasts."""

    def __init__(
        self,
        tokens: SubscriberTokens,
        hub: ActorRef[Any],
        settings: SocketSettings,
        clock: Clock,
        closing: trio.Event,
    ) -> None:
        self.tokens = tokens
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.closing = closing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            body = b'{"error":"this path speaks websocket only (Upgrade: websocket)"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 426,
                    "headers": [(b"content-type", b"application/json"), (b"upgrade", b"websocket")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "websocket":
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await _Connection(self, receive, send).run()


class _Connection:
    def __init__(self, socket: SubscriberSocket, receive: Receive, send: Send) -> None:
        self.socket = socket
        self.receive = receive
        self.send = send
        self.gone = False
        self.close_with: tuple[int, str] | None = None

    async def run(self) -> None:
        settings = self.socket.settings
        claims = None
        with trio.move_on_after(settings.connect_timeout_s):
            claims = await self._connect()
        if claims is None:
            if not self.gone:
                reason = self.close_with[1] if self.close_with else "no connect frame in time"
                with trio.move_on_after(5.0):
                    await self._close(POLICY, reason)
            return
        outbox, inbox = trio.open_memory_channel[str](settings.send_buffer)
        listener = Listener(claims.user, outbox)
        connected = {"type": "connected", "user": claims.user, "expires_at": claims.expires_at}
        await self._text(text(connected))
        # The writer is shielded: a frame is never cut off half way (the
        # client would read garbage instead of the close frame after it). It
        # stops between frames once its inbox is closed, or at a deadline set
        # when the connection ends, for a client that stopped reading.
        writer = trio.CancelScope(shield=True)
        try:
            async with trio.open_nursery() as nursery:

                def stop() -> None:
                    writer.deadline = min(writer.deadline, trio.current_time() + FRAME_S)
                    inbox.close()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(self._read, listener, claims, stop)
                nursery.start_soon(self._write, inbox, writer)
                nursery.start_soon(
                    self._until, listener.too_slow.wait, POLICY, "too slow: send buffer full", stop
                )
                nursery.start_soon(
                    self._until,
                    self.socket.closing.wait,
                    GOING_AWAY,
                    "the server is stopping",
                    stop,
                )
                nursery.start_soon(self._until, self._expiry(claims), POLICY, "token expired", stop)
        finally:
            # Shielded, and bounded: a client that stopped reading would
            # otherwise hold this task (and its buffer) on the close frame.
            with trio.CancelScope(shield=True), trio.move_on_after(5.0):
                await self.socket.hub.tell(Leave(listener))
                if not self.gone and self.close_with is not None:
                    await self._close(*self.close_with)

    async def _connect(self) -> SubscriberClaims | None:
        frame = await self._next_frame()
        if frame is None:
            return None
        if frame.type != "connect" or not frame.token:
            self.close_with = (POLICY, 'the first frame is {"type": "connect", "token": ...}')
            return None
        try:
            return self.socket.tokens.verify(frame.token)
        except InvalidToken as exc:
            self.close_with = (POLICY, str(exc))
            return None

    async def _next_frame(self) -> _Frame | None:
        """The next client frame; None once the client is gone (or sent what is no frame)."""
        while True:
            event = await self.receive()
            if event["type"] == "websocket.disconnect":
                self.gone = True
                return None
            text = event.get("text")
            raw = text.encode() if text is not None else event.get("bytes") or b""
            if len(raw) > self.socket.settings.max_frame_bytes:
                self.close_with = (POLICY, "frame too large")
                return None
            try:
                return msgspec.json.decode(raw, type=_Frame)
            except msgspec.DecodeError:
                self.close_with = (POLICY, "frames are JSON objects with a type")
                return None

    async def _read(
        self, listener: Listener, claims: SubscriberClaims, stop: Callable[[], None]
    ) -> None:
        try:
            while (frame := await self._next_frame()) is not None:
                if frame.type == "subscribe":
                    if frame.topic not in claims.topics:
                        self._say(
                            listener, {"type": "error", "message": f"not allowed: {frame.topic}"}
                        )
                        continue
                    try:
                        await self.socket.hub.ask(Subscribe(listener, frame.topic, frame.offset))
                    except StoreError:
                        message = f"cannot subscribe to {frame.topic} now; try again"
                        self._say(listener, {"type": "error", "message": message})
                elif frame.type == "unsubscribe":
                    await self.socket.hub.ask(Unsubscribe(listener, frame.topic))
                else:
                    self._say(
                        listener, {"type": "error", "message": f"unknown frame {frame.type!r}"}
                    )
        finally:
            # Every way out (a hub that did not answer, too) ends the writer.
            stop()

    def _say(self, listener: Listener, frame: dict[str, Any]) -> None:
        try:
            listener.send.send_nowait(text(frame))
        except trio.WouldBlock:
            listener.too_slow.set()

    async def _write(
        self, inbox: trio.MemoryReceiveChannel[str], shielded: trio.CancelScope
    ) -> None:
        ping = text({"type": "ping"})
        with shielded, contextlib.suppress(trio.ClosedResourceError):
            while True:
                try:
                    # A busy connection takes what waits without a timer per frame.
                    frame = inbox.receive_nowait()
                except trio.WouldBlock:
                    frame = ping
                    with trio.move_on_after(self.socket.settings.heartbeat_s):
                        frame = await inbox.receive()
                await self._text(frame)

    async def _until(
        self,
        event: Callable[[], Awaitable[object]],
        code: int,
        reason: str,
        stop: Callable[[], None],
    ) -> None:
        try:
            await event()
            if self.close_with is None:
                self.close_with = (code, reason)
        finally:
            stop()

    def _expiry(self, claims: SubscriberClaims) -> Callable[[], Awaitable[None]]:
        async def wait() -> None:
            await trio.sleep(max(0.0, claims.expires_at - self.socket.clock()))

        return wait

    async def _text(self, frame: str) -> None:
        await self.send({"type": "websocket.send", "text": frame})

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.send({"type": "websocket.close", "code": code, "reason": reason[:120]})
        except Exception:
            log.debug("websocket close not sent", exc_info=True)
