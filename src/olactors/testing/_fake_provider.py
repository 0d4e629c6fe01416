"""A local HTTP server that behaves like a provider, including its failures.

Real HTTP/1.1 over loopback (h11), keep-alive included, so clients are tested
the way they run. Each path answers from a script: a queue of canned
responses, then a default. A response can be delayed, carry any headers
(Retry-After, X-RateLimit-*, Meta usage), or be a connection reset instead
of an answer.
"""

from __future__ import annotations

import json
import socket
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11
import trio


@dataclass(frozen=True)
class Canned:
    """One answer: status, headers, body (bytes, or JSON from ``json``), after ``delay_s``.

    ``reset`` closes the connection abruptly (TCP RST) instead of answering.
    """

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False

    def payload(self) -> bytes:
        return json.dumps(self.json).encode() if self.json is not None else self.body


@dataclass(frozen=True)
class Seen:
    """A request as the provider received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Seen], Canned]


class FakeProvider:
    """Serve with ``await nursery.start(provider.serve)``; ``provider.url`` is its base URL."""

    def __init__(self, default: Canned | Responder | None = None) -> None:
        self._default: Canned | Responder = default or Canned(404, json={"error": "no route"})
        self._scripts: dict[str, deque[Canned]] = defaultdict(deque)
        self._routes: dict[str, Canned | Responder] = {}
        self.requests: list[Seen] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, path: str, answer: Canned | Responder) -> None:
        """Answer ``path`` with ``answer`` once its script is used up."""
        self._routes[path] = answer

    def script(self, path: str, *answers: Canned) -> None:
        """Answer the next requests to ``path`` with these, in order."""
        self._scripts[path].extend(answers)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(self._connection, listeners, handler_nursery=nursery)

    def _answer(self, request: Seen) -> Canned:
        script = self._scripts.get(request.path)
        if script:
            return script.popleft()
        answer = self._routes.get(request.path, self._default)
        return answer(request) if callable(answer) else answer

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(conn, stream)
                if request is None:
                    return
                self.requests.append(request)
                canned = self._answer(request)
                if canned.delay_s:
                    await trio.sleep(canned.delay_s)
                if canned.reset:
                    # SO_LINGER 0: close sends RST, what a crashed peer looks like.
                    stream.socket.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    return
                await self._respond(conn, stream, canned)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
            return
        finally:
            await stream.aclose()

    async def _read_request(self, conn: h11.Connection, stream: trio.SocketStream) -> Seen | None:
        head: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                if not data:
                    return None
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                target = head.target.decode()
                path, _, query = target.partition("?")
                headers = {k.decode().lower(): v.decode() for k, v in head.headers}
                return Seen(head.method.decode(), path, query, headers, body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _respond(
        self, conn: h11.Connection, stream: trio.SocketStream, canned: Canned
    ) -> None:
        payload = canned.payload()
        headers = [("content-length", str(len(payload)))]
        if canned.json is not None:
            headers.append(("content-type", "application/json"))
        headers += list(canned.headers.items())
        data = conn.send(h11.Response(status_code=canned.status, headers=headers))
        data += conn.send(h11.Data(data=payload)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        await stream.send_all(data)
