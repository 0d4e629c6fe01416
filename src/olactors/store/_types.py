"""What goes into the store and what comes out of it."""

from __future__ import annotations

import secrets
import time

import msgspec


def new_item_id() -> str:
    """A fresh item id that sorts by creation time (nanoseconds, then 64 random bits)."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


class NewItem(msgspec.Struct, frozen=True):
    """An item to enqueue. ``not_before`` is a unix time (0: now).

    Enqueueing is idempotent by ``id``: the same id twice stores one item.
    """

    payload: bytes
    id: str = msgspec.field(default_factory=new_item_id)
    source: str = ""
    meta: dict[str, str] = msgspec.field(default_factory=dict)
    not_before: float = 0.0


class EnqueueResult(msgspec.Struct, frozen=True):
    """``duplicate`` is true when the dedup key (or the id) was already there:
    nothing new was stored, and nothing needs to be."""

    id: str
    duplicate: bool


class QueueItem(msgspec.Struct, frozen=True):
    """A queued item as a worker sees it. ``attempt`` counts claims, this one included."""

    id: str
    queue: str
    payload: bytes
    source: str
    meta: dict[str, str]
    attempt: int
    enqueued_at: float
    last_error: str | None


class Lease(msgspec.Struct, frozen=True):
    """A claimed item, held until ``expires_at`` (unix time) unless acked, nacked or buried.

    Once the lease expires the item can be claimed again, by any worker on any
    replica; the ``token`` proves who holds it now.
    """

    item: QueueItem
    token: str
    expires_at: float


class DeadLetterItem(msgspec.Struct, frozen=True):
    """An item given up on after its last attempt, with the error that ended it."""

    id: str
    queue: str
    payload: bytes
    source: str
    meta: dict[str, str]
    attempts: int
    enqueued_at: float
    dead_at: float
    last_error: str | None
    cursor: int


class DeadLetterPage(msgspec.Struct, frozen=True):
    """One page of dead letters, oldest first; pass ``next_cursor`` for the next page."""

    items: list[DeadLetterItem]
    next_cursor: int | None


class QueueCounts(msgspec.Struct, frozen=True):
    """Items by state: ``ready`` to claim now (expired leases included), ``leased``,
    ``delayed`` until a later time, and ``dead``."""

    ready: int
    leased: int
    delayed: int
    dead: int
