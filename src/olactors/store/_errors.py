"""The store's exception hierarchy.

::

    StoreError
    ├── StoreUnavailable   the backend cannot be reached or written: answer 503, drop nothing
    ├── LeaseLost          the lease is no longer yours: it expired and was claimed again
    └── ItemNotFound       no such item (a dead letter that was replayed or deleted)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or cannot write: nothing was stored.

    At the edge this is a 503 with ``Retry-After``, never a silent drop.
    """


class LeaseLost(StoreError):
    """Ack, nack or bury with a lease that is no longer held.

    The lease expired and the item was claimed again (or the token is wrong):
    another worker owns it now, and this one must not touch it.
    """

    def __init__(self, queue: str, item_id: str) -> None:
        super().__init__(f"lease on {queue}/{item_id} is no longer held")
        self.queue = queue
        self.item_id = item_id


class ItemNotFound(StoreError, LookupError):
    """No item with that id in that place (queue, or its dead letters)."""

    def __init__(self, queue: str, item_id: str) -> None:
        super().__init__(f"no item {item_id} in {queue}")
        self.queue = queue
        self.item_id = item_id
