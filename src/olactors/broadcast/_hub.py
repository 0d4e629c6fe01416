"""The websocket channel's actor: topics, their bounded history, and who listens to each.

Each message published to a topic gets the topic's next offset and a place
in its history (the last ``history_size`` messages, none older than
``history_ttl_s``). A subscriber that says which offset it saw last gets
what it missed, in order, before anything new; when that is no longer in
the history it gets an explicit ``history_lost`` instead (Centrifugo's
recovery, without leaving the gap to the client).

Messages reach a connection through its own bounded buffer. A connection
whose buffer is full is not waited for: it is told to close (1008, too
slow), so one slow client never holds up a topic. The actor handles one
message at a time, so a subscription's catch-up and the live messages
after it can never interleave out of order.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from ..runtime import Actor

log = logging.getLogger("olactors.broadcast")


@dataclass(eq=False)
class Listener:
    """One websocket connection as the hub sees it: where to put its frames."""

    user: str
    send: trio.MemorySendChannel[bytes]
    #: Set by the hub when the buffer overflowed: the connection closes with 1008.
    too_slow: trio.Event = field(default_factory=trio.Event)
    topics: set[str] = field(default_factory=set)


class Publish(msgspec.Struct, frozen=True):
    """Put ``data`` on ``topic``; the answer is its offset."""

    topic: str
    data: dict[str, Any]


class Subscribe(msgspec.Struct, frozen=True):
    """Send ``listener`` the topic's messages from now on (after those since ``offset``)."""

    listener: Any  # a Listener: in memory, never encoded
    topic: str
    offset: int | None = None


class Unsubscribe(msgspec.Struct, frozen=True):
    listener: Any
    topic: str


class Leave(msgspec.Struct, frozen=True):
    """The connection is gone: forget every subscription of it."""

    listener: Any


HubMessage = Publish | Subscribe | Unsubscribe | Leave


class _Topic:
    def __init__(self, size: int, now: float) -> None:
        # Offsets start at the time of day in microseconds, not at 1: after a
        # restart (the history gone) they still only grow, so a client's
        # offset from before is older than anything kept, and it is told
        # its history is lost instead of being sent the wrong messages.
        self.next_offset = int(now * 1_000_000)
        self.history: deque[tuple[int, float, bytes]] = deque(maxlen=size)
        self.listeners: set[Listener] = set()


class WebsocketHub(Actor[HubMessage]):
    def __init__(self, *, history_size: int, history_ttl_s: float) -> None:
        self.history_size = history_size
        self.history_ttl_s = history_ttl_s
        self._topics: dict[str, _Topic] = {}
        self.published = 0
        self.dropped_slow = 0

    def _now(self) -> float:
        return self.context.clock()

    async def receive(self, message: HubMessage) -> int | None:
        if isinstance(message, Publish):
            return self._publish(message)
        if isinstance(message, Subscribe):
            return self._subscribe(message)
        if isinstance(message, Unsubscribe):
            self._leave(message.listener, message.topic)
        else:
            for topic in list(message.listener.topics):
                self._leave(message.listener, topic)
        return None

    def _publish(self, message: Publish) -> int:
        topic = self._topic(message.topic)
        offset = topic.next_offset
        topic.next_offset += 1
        frame = msgspec.json.encode(
            {"type": "message", "topic": message.topic, "offset": offset, "data": message.data}
        )
        topic.history.append((offset, self._now(), frame))
        self.published += 1
        for listener in list(topic.listeners):
            self._deliver(listener, frame)
        return offset

    def _subscribe(self, message: Subscribe) -> int:
        """The topic's offset now (the last one sent); catch-up first when asked for."""
        topic = self._topic(message.topic)
        listener: Listener = message.listener
        last = topic.next_offset - 1
        # First the answer, then what was missed, then (once added) what is new.
        subscribed = {"type": "subscribed", "topic": message.topic, "offset": last}
        self._deliver(listener, msgspec.json.encode(subscribed))
        if message.offset is not None and message.offset > last:
            # An offset this topic never gave: from before a restart.
            lost = {"type": "history_lost", "topic": message.topic}
            self._deliver(listener, msgspec.json.encode(lost))
        elif message.offset is not None and message.offset < last:
            kept = self._fresh(topic)
            oldest = kept[0][0] if kept else topic.next_offset
            if message.offset + 1 < oldest:
                lost = {"type": "history_lost", "topic": message.topic}
                self._deliver(listener, msgspec.json.encode(lost))
            else:
                for offset, _, frame in kept:
                    if offset > message.offset:
                        self._deliver(listener, frame)
        topic.listeners.add(listener)
        listener.topics.add(message.topic)
        return last

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(self.history_size, self._now())
        return topic

    def _fresh(self, topic: _Topic) -> list[tuple[int, float, bytes]]:
        cutoff = self._now() - self.history_ttl_s
        while topic.history and topic.history[0][1] < cutoff:
            topic.history.popleft()
        return list(topic.history)

    def _deliver(self, listener: Listener, frame: bytes) -> None:
        if listener.too_slow.is_set():
            return
        try:
            listener.send.send_nowait(frame)
        except trio.WouldBlock:
            self.dropped_slow += 1
            listener.too_slow.set()
            for topic in list(listener.topics):
                self._leave(listener, topic)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            for topic in list(listener.topics):
                self._leave(listener, topic)

    def _leave(self, listener: Listener, name: str) -> None:
        topic = self._topics.get(name)
        if topic is not None:
            topic.listeners.discard(listener)
        listener.topics.discard(name)

    def inspect(self) -> dict[str, Any]:
        return {
            "topics": len(self._topics),
            "subscriptions": sum(len(t.listeners) for t in self._topics.values()),
            "published": self.published,
            "disconnected_slow": self.dropped_slow,
        }
