"""Durable state: dedup keys, queues with leases and dead letters, key-value.

Two backends behind one contract: ``sqlite`` (embedded, the default) and
``redis`` (shared by several daemons). The rest of the daemon talks to a
:class:`Store`, which talks to store actors; nothing else touches sqlite3 or
redis-py.
"""

from ._actor import StoreActor
from ._backend import Backend, BackendFactory, Role
from ._commands import KeyPage, Settlement, TopicLog
from ._errors import (
    InvalidStoreCall,
    ItemNotFound,
    LeaseLost,
    LockBusy,
    StoreError,
    StoreUnavailable,
)
from ._eventlog import (
    DEAD,
    DELIVERED,
    DROPPED,
    LOG_DESTINATION,
    LOG_EVENT,
    PENDING,
    RESPONSE_EXCERPT_BYTES,
    UNROUTED,
    Attempt,
    Delivery,
    EventPage,
    EventRecord,
    EventSummary,
)
from ._redis import RedisBackend, redacted
from ._sqlite import SqliteBackend
from ._store import STORE_PATH, Store, store_spec
from ._types import (
    DEFAULT_KEEP_S,
    Claimed,
    DeadLetterItem,
    DeadLetterPage,
    EnqueueResult,
    Lease,
    NewItem,
    QueueCounts,
    QueueItem,
    new_item_id,
)
from ._wakes import OnWake, QueueWakes

__all__ = [
    "DEAD",
    "DEFAULT_KEEP_S",
    "DELIVERED",
    "DROPPED",
    "LOG_DESTINATION",
    "LOG_EVENT",
    "PENDING",
    "RESPONSE_EXCERPT_BYTES",
    "STORE_PATH",
    "UNROUTED",
    "Attempt",
    "Backend",
    "BackendFactory",
    "Claimed",
    "DeadLetterItem",
    "DeadLetterPage",
    "Delivery",
    "EnqueueResult",
    "EventPage",
    "EventRecord",
    "EventSummary",
    "InvalidStoreCall",
    "ItemNotFound",
    "KeyPage",
    "Lease",
    "LeaseLost",
    "LockBusy",
    "NewItem",
    "OnWake",
    "QueueCounts",
    "QueueItem",
    "QueueWakes",
    "RedisBackend",
    "Role",
    "Settlement",
    "SqliteBackend",
    "Store",
    "StoreActor",
    "StoreError",
    "StoreUnavailable",
    "TopicLog",
    "new_item_id",
    "redacted",
    "store_spec",
]
