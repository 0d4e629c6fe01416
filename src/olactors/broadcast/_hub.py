"""The websocket channel's actor: topics, their bounded history, and who listens to each.

Each message published to a topic gets the topic's next offset and a place
in its history (the last ``history_size`` messages, none older than
``history_ttl_s``). A subscriber that says which offset it saw last gets
what it missed, in order, before anything new; when that is no longer in
the history it gets an explicit ``history_lost`` instead (Centrifugo's
recovery, without leaving the gap to the client).

With the Redis store (``shared``), topics are the store's: a publish gives
the frame its offset in Redis, keeps it in the topic's history there and
publishes it to every replica, this one included; each hub hands what it
hears (:class:`Remote`) to its own subscribers. A subscription reads the
history from Redis, so a client gets what it missed whichever replica it
comes back to. A frame heard both in the history and live is sent once: each
connection remembers the last offset it was sent per topic.

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
from typing import Any, ClassVar

import msgspec
import trio

from ..runtime import Actor
from ..store import Store, StoreError

log = logging.getLogger("olactors.broadcast")


@dataclass(eq=False)
class Listener:
    """One websocket connection as the hub sees it: where to put its frames."""

    user: str
    send: trio.MemorySendChannel[str]
    #: Set by the hub when the buffer overflowed: the connection closes with 1008.
    too_slow: trio.Event = field(default_factory=trio.Event)
    topics: set[str] = field(default_factory=set)
    #: The last offset sent per topic: nothing at or below it goes again.
    sent: dict[str, int] = field(default_factory=dict)


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


class Remote(msgspec.Struct, frozen=True):
    """A frame published through Redis (on any replica), for the subscribers here."""

    topic: str
    offset: int
    frame: str

    @classmethod
    def parse(cls, heard: str) -> Remote:
        """From what the store publishes: ``<topic> <offset> <frame>``."""
        topic, offset, frame = heard.split(" ", 2)
        return cls(topic, int(offset), frame)


HubMessage = Publish | Subscribe | Unsubscribe | Leave | Remote


class _Topic:
    def __init__(self, name: str, size: int, now: float) -> None:
        self.name = name
        # Offsets start at the time of day in microseconds, not at 1: after a
        # restart (the history gone) they still only grow, so a client's
        # offset from before is older than anything kept, and it is told
        # its history is lost instead of being sent the wrong messages.
        self.next_offset = int(now * 1_000_000)
        self.history: deque[tuple[int, float, str]] = deque(maxlen=size)
        self.listeners: set[Listener] = set()


def text(value: Any) -> str:
    """A frame as it goes on the wire: JSON text, made once for every listener."""
    return msgspec.json.encode(value).decode()


def _lost(topic: str) -> dict[str, str]:
    return {"type": "history_lost", "topic": topic}


class WebsocketHub(Actor[HubMessage]):
    #: Redis unreachable (shared mode): the asker is told, the hub and its
    #: subscriptions stay (a restart would drop every subscription here).
    reply_errors: ClassVar[tuple[type[Exception], ...]] = (StoreError,)

    def __init__(
        self, *, history_size: int, history_ttl_s: float, shared_store: str | None = None
    ) -> None:
        self.history_size = history_size
        self.history_ttl_s = history_ttl_s
        self.shared_store = shared_store
        self._store: Store | None = None
        self._topics: dict[str, _Topic] = {}
        self.published = 0
        self.dropped_slow = 0

    async def started(self) -> None:
        if self.shared_store is not None:
            self._store = Store.at(self.context, self.shared_store)

    def _now(self) -> float:
        return self.context.clock()

    async def receive(self, message: HubMessage) -> int | None:
        if isinstance(message, Remote):
            # Every replica hears every topic: only those subscribed here matter.
            heard = self._topics.get(message.topic)
            if heard is not None:
                self._fan_out(heard, message.offset, message.frame)
            return None
        if isinstance(message, Publish):
            if self._store is not None:
                data = msgspec.json.encode(message.data)
                self.published += 1
                return await self._store.topic_publish(
                    message.topic, data, size=self.history_size, ttl_s=self.history_ttl_s
                )
            return self._publish(message)
        if isinstance(message, Subscribe):
            if self._store is not None:
                return await self._subscribe_shared(message, self._store)
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
        frame = text(
            {"type": "message", "topic": message.topic, "offset": offset, "data": message.data}
        )
        topic.history.append((offset, self._now(), frame))
        self.published += 1
        self._fan_out(topic, offset, frame)
        return offset

    def _fan_out(self, topic: _Topic, offset: int, frame: str) -> None:
        if self._store is None:
            # One process: this actor gives the offsets, so none can come twice.
            for listener in list(topic.listeners):
                self._deliver(listener, frame)
            return
        for listener in list(topic.listeners):
            sent = listener.sent.get(topic.name, offset - 1)
            if sent >= offset:
                continue  # had it from the history already
            if sent < offset - 1:
                # Offsets are consecutive: frames went missing on the way here
                # (a pub/sub reconnect, a full mailbox). Say so: the client
                # gets them from the history when it subscribes again.
                self._deliver(listener, text(_lost(topic.name)))
            listener.sent[topic.name] = offset
            self._deliver(listener, frame)

    async def _subscribe_shared(self, message: Subscribe, store: Store) -> int:
        """As :meth:`_subscribe`, from the history kept in Redis."""
        log = await store.topic_history(message.topic)
        cutoff = self._now() - self.history_ttl_s
        kept = [(n, at, frame.decode()) for n, at, frame in log.frames if at >= cutoff]
        return self._join(message, log.last, kept)

    def _subscribe(self, message: Subscribe) -> int:
        """The topic's offset now (the last one sent); catch-up first when asked for."""
        topic = self._topic(message.topic)
        return self._join(message, topic.next_offset - 1, self._fresh(topic))

    def _join(self, message: Subscribe, last: int, kept: list[tuple[int, float, str]]) -> int:
        topic = self._topic(message.topic)
        listener: Listener = message.listener
        # First the answer, then what was missed, then (once added) what is new.
        subscribed = {"type": "subscribed", "topic": message.topic, "offset": last}
        self._deliver(listener, text(subscribed))
        if message.offset is not None and message.offset > last:
            # An offset this topic never gave: from before a restart.
            lost = _lost(message.topic)
            self._deliver(listener, text(lost))
        elif message.offset is not None and message.offset < last:
            oldest = kept[0][0] if kept else last + 1
            if message.offset + 1 < oldest:
                lost = _lost(message.topic)
                self._deliver(listener, text(lost))
            else:
                for offset, _, frame in kept:
                    if message.offset < offset <= last:
                        self._deliver(listener, frame)
        # What is live from here on is what comes after the last offset now.
        listener.sent[message.topic] = last
        topic.listeners.add(listener)
        listener.topics.add(message.topic)
        return last

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(name, self.history_size, self._now())
        return topic

    def _fresh(self, topic: _Topic) -> list[tuple[int, float, str]]:
        cutoff = self._now() - self.history_ttl_s
        while topic.history and topic.history[0][1] < cutoff:
            topic.history.popleft()
        return list(topic.history)

    def _deliver(self, listener: Listener, frame: str) -> None:
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
        listener.sent.pop(name, None)
        if self._store is not None and topic is not None and not topic.listeners:
            del self._topics[name]  # its history is in Redis, not here

    def inspect(self) -> dict[str, Any]:
        return {
            "topics": len(self._topics),
            "subscriptions": sum(len(t.listeners) for t in self._topics.values()),
            "published": self.published,
            "disconnected_slow": self.dropped_slow,
        }
