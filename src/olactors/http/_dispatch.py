"""One ASGI app in front of several, by path prefix: how the public listener serves each
capability (``/webhooks/`` today; OAuth callbacks and the websocket next) on one port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from ..runtime import ActorContext

if TYPE_CHECKING:
    from ._listener import AppFactory

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_FOUND = b'{"status":"refused","error":"NotFound","message":"nothing is served at this path"}'


class PrefixDispatcher:
    """Hands each HTTP or websocket request to the app whose prefix its path starts with.

    The longest matching prefix wins. A path no prefix matches is answered
    404 (JSON) here. Lifespan events are answered here too: the mounted apps
    are plain ASGI callables with nothing to start or stop.
    """

    def __init__(self, routes: Mapping[str, App]) -> None:
        if any(not prefix.startswith("/") for prefix in routes):
            raise ValueError("every prefix starts with /")
        self._routes = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        for prefix, app in self._routes:
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_NOT_FOUND)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _NOT_FOUND})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})


@dataclass(frozen=True, slots=True)
class Mount:
    """A capability's share of the public listener: the app served under ``prefix``.

    ``app`` is called once per listener start, with the listener's context
    (to find the store and the couriers) and its closing event.
    """

    prefix: str
    app: Callable[[ActorContext, trio.Event], App]


def mounted(mounts: Sequence[Mount]) -> AppFactory:
    """The public listener's app: each mount's app behind one :class:`PrefixDispatcher`."""
    prefixes = [mount.prefix for mount in mounts]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"two capabilities mounted at one prefix: {sorted(prefixes)}")

    def build(context: ActorContext, closing: trio.Event) -> PrefixDispatcher:
        return PrefixDispatcher({mount.prefix: mount.app(context, closing) for mount in mounts})

    return build


async def answer_lifespan(receive: Receive, send: Send) -> None:
    """Answer an ASGI lifespan for an app with nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
