"""The event log: every published event, where it went, and every attempt to get it there.

An event is published once, in one atomic step with its dedup key and one
queue item per destination (see :class:`Publish`); the queues do the work,
and the log keeps what an operator asks afterwards: the payload, each
destination's state, and the attempts with their outcome, latency and the
start of each answer. A record is kept for its ``retention_s`` after it was
received or last settled, whichever is later, so a record whose deliveries
are still being retried does not expire under them.
"""

from __future__ import annotations

import math
import re

import msgspec

from ._errors import InvalidStoreCall

#: Namespaces and destinations end up inside queue names and keys, joined by ":".
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

#: The most events one listing returns.
MAX_EVENTS_PAGE = 1000

#: How much of an answer an attempt keeps.
RESPONSE_EXCERPT_BYTES = 1024

#: A destination's state in the log.
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

#: An event published to no destination; the publisher says which.
UNROUTED, DROPPED = "unrouted", "dropped"


def check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise InvalidStoreCall(f"{what} {name!r} must match {_NAME.pattern}")


def event_status(destinations: dict[str, str], empty: str) -> str:
    """The event's state from its destinations': pending while any is, then dead, then delivered."""
    states = set(destinations.values())
    if not states:
        return empty
    for state in (PENDING, DEAD):
        if state in states:
            return state
    return DELIVERED


class Attempt(msgspec.Struct, frozen=True, omit_defaults=True):
    """One try at one destination.

    ``outcome`` is ``delivered``, ``http_error`` (an answer that was not 2xx:
    see ``status``), ``network``, ``timeout``, ``breaker_open``,
    ``rate_limited`` or ``error`` (the destination raised); ``response`` holds
    the first :data:`RESPONSE_EXCERPT_BYTES` of the answer's body.
    """

    at: float
    destination: str
    outcome: str
    latency_ms: float
    status: int | None = None
    response: bytes = b""
    error: str = ""


#: Item metadata naming the event and destination an item delivers, when the
#: item has its own id (see :attr:`Delivery.item_id`).
LOG_EVENT, LOG_DESTINATION = "log.event", "log.destination"


class Delivery(msgspec.Struct, frozen=True):
    """One destination of a published event: its queue and its ordering key ("" for none).

    The item's id is the event's, unless ``item_id`` is given: several
    destinations of one event can then share a queue (a broadcast's targets
    on one channel). Such an item carries ``meta`` on top of the event's, and
    :data:`LOG_EVENT` and :data:`LOG_DESTINATION`, so that whoever settles it
    knows what to record in the log.
    """

    destination: str
    queue: str
    order_key: str = ""
    item_id: str = ""
    meta: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.destination, "destination")
        if self.meta and not self.item_id:
            raise InvalidStoreCall("only a delivery with its own item_id carries its own meta")

    def item(self, event_id: str, event_meta: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The id and metadata of this delivery's item."""
        if not self.item_id:
            return event_id, event_meta
        extra = {LOG_EVENT: event_id, LOG_DESTINATION: self.destination}
        return self.item_id, {**event_meta, **self.meta, **extra}


class EventSummary(msgspec.Struct, frozen=True):
    """An event as listed: what it is and where it stands, without its payload."""

    namespace: str
    id: str
    type: str
    received_at: float
    status: str
    destinations: dict[str, str]
    attempts: int
    cursor: int


class EventRecord(msgspec.Struct, frozen=True):
    """One event with its payload, metadata and every attempt, oldest first."""

    namespace: str
    id: str
    type: str
    received_at: float
    status: str
    destinations: dict[str, str]
    payload: bytes
    meta: dict[str, str]
    attempts: list[Attempt]


class EventPage(msgspec.Struct, frozen=True):
    """Events newest first; ``next_cursor`` continues the listing (None: the end).

    A page may hold fewer than ``limit`` events and still have a next cursor:
    a filtered listing looks at a bounded number of records per call.
    """

    items: list[EventSummary]
    next_cursor: int | None


class Publish(msgspec.Struct, frozen=True, tag=True):
    """Store an event in the log and one item per delivery, after its dedup key, atomically."""

    namespace: str
    id: str
    event_type: str
    payload: bytes
    meta: dict[str, str]
    deliveries: list[Delivery]
    retention_s: float
    dedup_key: str | None = None
    dedup_ttl_s: float = 0.0
    #: The status of an event with no deliveries: ``unrouted`` or ``dropped``.
    empty_status: str = UNROUTED

    def __post_init__(self) -> None:
        check_name(self.namespace, "namespace")
        if not self.id:
            raise InvalidStoreCall("event id must not be empty")
        if not (math.isfinite(self.retention_s) and self.retention_s > 0):
            raise InvalidStoreCall(f"retention_s must be above 0, not {self.retention_s}")
        if self.dedup_key is not None and not (
            self.dedup_key and math.isfinite(self.dedup_ttl_s) and self.dedup_ttl_s > 0
        ):
            raise InvalidStoreCall("a dedup key must not be empty and needs a ttl above 0")
        names = [d.destination for d in self.deliveries]
        if len(set(names)) != len(names):
            raise InvalidStoreCall(f"an event goes to each destination once: {names}")
        if self.empty_status not in (UNROUTED, DROPPED):
            raise InvalidStoreCall(f"empty_status is {UNROUTED!r} or {DROPPED!r}")


class ListEvents(msgspec.Struct, frozen=True, tag=True):
    """Events of ``namespace`` newest first, before ``before`` (0: from the newest).

    ``status`` and ``destination`` filter together: with a destination, the
    status is that destination's; without, the event's.
    """

    namespace: str
    limit: int
    before: int = 0
    status: str = ""
    event_type: str = ""
    destination: str = ""

    def __post_init__(self) -> None:
        check_name(self.namespace, "namespace")
        if self.destination:
            check_name(self.destination, "destination")
        if not 1 <= self.limit <= MAX_EVENTS_PAGE:
            raise InvalidStoreCall(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
        if self.before < 0:
            raise InvalidStoreCall("a cursor is not negative")


class GetEvent(msgspec.Struct, frozen=True, tag=True):
    namespace: str
    id: str


class AddDeliveries(msgspec.Struct, frozen=True, tag=True):
    """Send a logged event to more destinations (an unrouted one, once a route exists).

    Destinations the event already has are left alone, so asking twice adds
    nothing. ``payload`` and ``item_meta`` are what each new item carries
    (the caller read them from the log). The outcome is the destinations
    added; :class:`ItemNotFound` if the event is not (or no longer) kept.
    """

    namespace: str
    id: str
    payload: bytes
    item_meta: dict[str, str]
    deliveries: list[Delivery]

    def __post_init__(self) -> None:
        check_name(self.namespace, "namespace")
