"""What goes into the store and what comes out of it."""

from __future__ import annotations

import secrets
import time

import msgspec

#: How long dedup keys and events are kept unless configured: a week, longer
#: than any provider keeps retrying a webhook.
DEFAULT_KEEP_S = 7 * 24 * 3600.0


def new_item_id() -> str:
    """A fresh item id that sorts by creation time (nanoseconds, then 64 random bits)."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


class NewItem(msgspec.Struct, frozen=True):
    """An item to enqueue. ``not_before`` is a unix time (0: now).

    Enqueueing is idempotent by ``id``: the same id twice stores one item.
    Items of one queue that share a non-empty ``order_key`` are claimed one at
    a time, in the order they were enqueued: an item waits (``held``) while an
    earlier one with its key is still in the queue, ready, delayed or leased,
    and goes when that one is acked or buried.
    """

    payload: bytes
    id: str = msgspec.field(default_factory=new_item_id)
    source: str = ""
    meta: dict[str, str] = msgspec.field(default_factory=dict)
    not_before: float = 0.0
    order_key: str = ""


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
    ``delayed`` until a later time, ``dead``, and ``held`` behind an earlier item
    with the same order key."""

    ready: int
    leased: int
    delayed: int
    dead: int
    held: int = 0


class Claimed(msgspec.Struct, frozen=True):
    """What one claim took: up to its limit of leases, oldest due first.

    ``next_due`` is the unix time at which the next item of the queue that
    could not be taken now becomes claimable (a delayed item, or a lease that
    will expire), or None if nothing is waiting: a worker that found the
    queue empty sleeps until then, or until it is woken by a new item.
    """

    leases: list[Lease]
    next_due: float | None
