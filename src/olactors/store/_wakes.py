"""Wake-ups across replicas: names of queues that just got work, from Redis pub/sub.

The Redis scripts publish a queue's name on ``<prefix>:wake`` whenever an
item becomes ready there at once (enqueued, published, replayed,
expedited). A replica's workers learn of work another replica stored
without polling for it; work due later is found through ``next_due``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
import trio

from ..runtime import Actor, Refs
from ._redis import redacted

log = logging.getLogger("olactors.store")

#: Called in the event loop with the actor's context (to find refs) and a queue's name.
OnWake = Callable[[Refs, str], None]


class QueueWakes(Actor[Any]):
    """Subscribes to a Redis backend's wake channel and calls ``on_wake`` for each queue named.

    ``channel`` picks another of the backend's channels: ``topics`` carries
    the websocket frames every replica hands to its own subscribers.

    redis-py's pub/sub blocks, so it runs in a worker thread that checks every
    ``poll_s`` whether to stop; each message is handed to the event loop.
    When Redis goes away it reconnects with a back-off; wake-ups sent
    meanwhile are lost, and workers find that work at their next due time.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        password: str | None,
        on_wake: OnWake,
        poll_s: float = 0.5,
        channel: str = "wake",
    ) -> None:
        self.url = url
        self.channel = f"{prefix}:{channel}"
        self._password = password
        self._on_wake = on_wake
        self.poll_s = poll_s
        self.received = 0
        self.connected = False
        self._stop = threading.Event()

    async def started(self) -> None:
        token = trio.lowlevel.current_trio_token()
        self.context.nursery.start_soon(self._listen_in_thread, token)

    async def receive(self, message: Any) -> None:
        raise TypeError("the wake listener takes no messages")

    async def stopping(self) -> None:
        self._stop.set()

    async def _listen_in_thread(self, token: trio.lowlevel.TrioToken) -> None:
        # Abandoned on cancel: the thread notices the stop flag within poll_s.
        await trio.to_thread.run_sync(self._listen, token, abandon_on_cancel=True)

    def _listen(self, token: trio.lowlevel.TrioToken) -> None:
        backoff_s = 0.1
        while not self._stop.is_set():
            client = redis.Redis.from_url(
                self.url,
                password=self._password,
                socket_connect_timeout=1.0,
                socket_timeout=self.poll_s + 2.0,
            )
            pubsub = client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=self.poll_s)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # Confirmed by the server: from here on nothing published is missed.
                        self.connected, backoff_s = True, 0.1
                    elif message["type"] == "message":
                        self._hand_over(token, bytes(message["data"]).decode())
            except (redis.RedisError, OSError) as exc:
                if self.connected:
                    log.warning("wake-ups from %s lost: %s", redacted(self.url), exc)
                self.connected = False
                self._stop.wait(backoff_s)
                backoff_s = min(2.0, backoff_s * 2)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
                    client.close()

    def _hand_over(self, token: trio.lowlevel.TrioToken, queue: str) -> None:
        with contextlib.suppress(trio.RunFinishedError, trio.Cancelled):
            trio.from_thread.run_sync(self._wake, queue, trio_token=token)

    def _wake(self, queue: str) -> None:
        if self._stop.is_set():
            return
        self.received += 1
        self._on_wake(self.context, queue)

    def inspect(self) -> dict[str, Any]:
        return {"channel": self.channel, "connected": self.connected, "received": self.received}
