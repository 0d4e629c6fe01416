"""Durable state: dedup keys, queues with leases and dead letters, key-value.

Two backends behind one contract: ``sqlite`` (embedded, the default) and
``redis`` (shared by several daemons). The rest of the daemon talks to a
:class:`Store`, which talks to store actors; nothing else touches sqlite3 or
redis-py.
"""

from ._actor import StoreActor
from ._backend import Backend
from ._errors import InvalidStoreCall, ItemNotFound, LeaseLost, StoreError, StoreUnavailable
from ._redis import RedisBackend, redacted
from ._sqlite import SqliteBackend
from ._store import Store, store_spec
from ._types import (
    DeadLetterItem,
    DeadLetterPage,
    EnqueueResult,
    Lease,
    NewItem,
    QueueCounts,
    QueueItem,
    new_item_id,
)

__all__ = [
    "Backend",
    "DeadLetterItem",
    "DeadLetterPage",
    "EnqueueResult",
    "InvalidStoreCall",
    "ItemNotFound",
    "Lease",
    "LeaseLost",
    "NewItem",
    "QueueCounts",
    "QueueItem",
    "RedisBackend",
    "SqliteBackend",
    "Store",
    "StoreActor",
    "StoreError",
    "StoreUnavailable",
    "new_item_id",
    "redacted",
    "store_spec",
]
