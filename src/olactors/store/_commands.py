"""The messages the store actors take: one Struct per operation.

A backend runs a batch of these in one transaction (sqlite) or one pipeline
(Redis), so every command maps to work that can share a commit.
"""

from __future__ import annotations

import math
import re
from typing import Literal, get_args

import msgspec

from ._errors import InvalidStoreCall
from ._eventlog import AddDeliveries, Attempt, GetEvent, ListEvents, Publish, check_name
from ._types import NewItem

# Queue names end up in Redis keys inside a hash tag: no braces, no spaces.
_QUEUE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
MAX_PAGE = 1000
#: The most items one claim may lease.
MAX_CLAIM = 1000


def _queue(name: str) -> None:
    if not _QUEUE.match(name):
        raise InvalidStoreCall(f"queue name {name!r} must match {_QUEUE.pattern}")


def _key(key: str, what: str) -> None:
    if not key:
        raise InvalidStoreCall(f"{what} must not be empty")


def _positive(seconds: float, what: str) -> None:
    if not (math.isfinite(seconds) and seconds > 0):
        raise InvalidStoreCall(f"{what} must be a finite number of seconds above 0, not {seconds}")


def _time(at: float, what: str) -> None:
    if not (math.isfinite(at) and at >= 0):
        raise InvalidStoreCall(f"{what} must be a unix time, not {at}")


def _limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidStoreCall(f"limit must be between 1 and {MAX_PAGE}, not {limit}")


class ClaimKey(msgspec.Struct, frozen=True, tag=True):
    key: str
    ttl_s: float

    def __post_init__(self) -> None:
        _key(self.key, "dedup key")
        _positive(self.ttl_s, "ttl_s")


class Enqueue(msgspec.Struct, frozen=True, tag=True):
    queue: str
    item: NewItem
    dedup_key: str | None = None
    dedup_ttl_s: float = 0.0

    def __post_init__(self) -> None:
        _queue(self.queue)
        _key(self.item.id, "item id")
        _time(self.item.not_before, "not_before")
        if self.dedup_key is not None:
            _key(self.dedup_key, "dedup key")
            _positive(self.dedup_ttl_s, "dedup_ttl_s")


class Claim(msgspec.Struct, frozen=True, tag=True):
    """Lease up to ``limit`` ready items, all under one ``token``."""

    queue: str
    lease_s: float
    token: str
    limit: int = 1

    def __post_init__(self) -> None:
        _queue(self.queue)
        _positive(self.lease_s, "lease_s")
        if not 1 <= self.limit <= MAX_CLAIM:
            raise InvalidStoreCall(f"a claim takes 1 to {MAX_CLAIM} items, not {self.limit}")


class Ack(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str
    token: str


class Nack(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str
    token: str
    error: str
    retry_at: float

    def __post_init__(self) -> None:
        _time(self.retry_at, "retry_at")


class Bury(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str
    token: str
    error: str


Action = Literal["ack", "nack", "bury", "release"]


class Settlement(msgspec.Struct, frozen=True):
    """The end of one lease: ``ack`` (done), ``nack`` (failed, retry at ``retry_at``),
    ``bury`` (dead letter with ``error``) or ``release`` (given back untried: claimable
    at ``retry_at`` and the claim's attempt not spent).

    With a ``namespace``, the item is the delivery of event ``event`` (the
    item's ``id`` when empty) of that namespace to ``destination``: the event
    log records the destination's new state (delivered, dead, or still
    pending) and ``attempt``, if any.
    """

    queue: str
    id: str
    token: str
    action: Action
    retry_at: float = 0.0
    error: str = ""
    namespace: str = ""
    destination: str = ""
    attempt: Attempt | None = None
    event: str = ""

    def __post_init__(self) -> None:
        _queue(self.queue)
        _time(self.retry_at, "retry_at")
        if self.namespace:
            check_name(self.namespace, "namespace")
            check_name(self.destination, "destination")


class Settle(msgspec.Struct, frozen=True, tag=True):
    """Many settlements in one commit; the outcome is a list, ``LeaseLost`` or None each."""

    settlements: list[Settlement]


class Expedite(msgspec.Struct, frozen=True, tag=True):
    """Make a delayed item claimable now (ahead of its retry schedule)."""

    queue: str
    id: str


class ListDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    limit: int
    after: int

    def __post_init__(self) -> None:
        _queue(self.queue)
        _limit(self.limit)


class GetDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str


class ReplayDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str


class ReplayAllDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    limit: int

    def __post_init__(self) -> None:
        _queue(self.queue)
        _limit(self.limit)


class DeleteDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str


class Counts(msgspec.Struct, frozen=True, tag=True):
    queue: str

    def __post_init__(self) -> None:
        _queue(self.queue)


class Queues(msgspec.Struct, frozen=True, tag=True):
    pass


class KvGet(msgspec.Struct, frozen=True, tag=True):
    key: str

    def __post_init__(self) -> None:
        _key(self.key, "key")


class KvPut(msgspec.Struct, frozen=True, tag=True):
    key: str
    value: bytes
    ttl_s: float | None = None
    #: Only if the key holds nothing (or what it held expired): a lock.
    if_absent: bool = False

    def __post_init__(self) -> None:
        _key(self.key, "key")
        if self.ttl_s is not None:
            _positive(self.ttl_s, "ttl_s")


class KvDelete(msgspec.Struct, frozen=True, tag=True):
    key: str
    #: Only if the key holds this value (a lock's owner releasing it): compare
    #: and delete in one step, so an expired lock taken by another is left alone.
    if_value: bytes | None = None

    def __post_init__(self) -> None:
        _key(self.key, "key")


class Reserve(msgspec.Struct, frozen=True, tag=True):
    """A slot in a shared GCRA budget: ``interval_s`` apart, ``tolerance_s`` of burst."""

    key: str
    interval_s: float
    tolerance_s: float
    wait: bool = True

    def __post_init__(self) -> None:
        _key(self.key, "budget key")
        _positive(self.interval_s, "interval_s")
        if not (math.isfinite(self.tolerance_s) and self.tolerance_s >= 0):
            raise InvalidStoreCall(f"tolerance_s must be >= 0, not {self.tolerance_s}")


class Hold(msgspec.Struct, frozen=True, tag=True):
    """Let no slot of budget ``key`` go for ``seconds`` (a provider asked for a pause)."""

    key: str
    seconds: float

    def __post_init__(self) -> None:
        _key(self.key, "budget key")
        _positive(self.seconds, "seconds")


class KvKeys(msgspec.Struct, frozen=True, tag=True):
    """Live keys starting with ``prefix``, about ``limit`` a page (a :class:`KeyPage`);
    ``cursor`` is the previous page's ``next_cursor`` ("" for the first)."""

    prefix: str
    cursor: str = ""
    limit: int = 100

    def __post_init__(self) -> None:
        _key(self.prefix, "prefix")
        if not 1 <= self.limit <= 1000:
            raise InvalidStoreCall("limit is between 1 and 1000")


class KeyPage(msgspec.Struct, frozen=True):
    """Keys of one page; ``next_cursor`` None at the end. A key may come twice across
    pages (Redis's SCAN), never not at all if it lived throughout."""

    keys: list[str]
    next_cursor: str | None


class TopicPublish(msgspec.Struct, frozen=True, tag=True):
    """Give ``frame_data`` (JSON) the topic's next offset, keep it in the topic's history
    (its last ``size``, for ``ttl_s``) and publish the frame to every replica.

    Redis only: one process keeps its topics in memory. The outcome is the offset.
    """

    topic: str
    data: bytes
    size: int
    ttl_s: float

    def __post_init__(self) -> None:
        _key(self.topic, "topic")
        _positive(self.ttl_s, "ttl_s")


class TopicHistory(msgspec.Struct, frozen=True, tag=True):
    """The topic's last offset and its kept frames, oldest first (a :class:`TopicLog`).

    A write: a topic never published gets its offset here, so that a client
    subscribed now and back later knows what it can have missed."""

    topic: str

    def __post_init__(self) -> None:
        _key(self.topic, "topic")


class TopicLog(msgspec.Struct, frozen=True):
    """``last`` is the topic's newest offset; ``frames`` are (offset, unix time, frame),
    oldest first."""

    last: int
    frames: list[tuple[int, float, bytes]]


Write = (
    ClaimKey
    | Enqueue
    | Publish
    | AddDeliveries
    | Claim
    | Settle
    | Expedite
    | Ack
    | Nack
    | Bury
    | ReplayDead
    | ReplayAllDead
    | DeleteDead
    | KvPut
    | KvDelete
    | Reserve
    | Hold
    | TopicPublish
    | TopicHistory
)
Read = ListDead | GetDead | Counts | Queues | KvGet | KvKeys | ListEvents | GetEvent
Command = Write | Read

#: Commands that change state and so go to the writer.
WRITES: tuple[type[msgspec.Struct], ...] = get_args(Write)
