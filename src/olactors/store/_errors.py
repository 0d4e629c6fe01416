"""The store's exception hierarchy.

::

    StoreError
    ├── StoreUnavailable   the backend cannot be reached or written: answer 503, drop nothing
    ├── LeaseLost          the lease is no longer yours: it expired and was claimed again
    ├── ItemNotFound       no such item (a dead letter that was replayed or deleted)
    └── InvalidStoreCall   the call's arguments are out of range (a bug in the caller)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose.

    ``retry_after_s`` is set on those worth retrying as they are: what an
    edge sends as ``Retry-After``.
    """

    retry_after_s: float | None = None


class StoreUnavailable(StoreError):
    """The backend could not be reached, could not write, or did not answer in time.

    The call was not carried out, except when the answer was only late (a
    timeout): then it may have been. Either way it is not acknowledged, and
    the caller retries or answers 503 with ``Retry-After``, never treats it as
    done. That is why an event is stored with ``enqueue(dedup_key=...)``, one
    atomic step, and not with ``claim_key`` followed by ``enqueue``: a retry
    after a late commit then finds the event stored, not just its key taken.
    """

    # The store reconnects within a second or two of an outage ending; a
    # sender asked to wait a few seconds more finds it back.
    retry_after_s = 5.0


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


class InvalidStoreCall(StoreError, ValueError):
    """Arguments out of range (an empty key, a zero lease, a limit below 1...).

    Raised where the call is made, before anything reaches a backend.
    """


class LockBusy(StoreError):
    """A :meth:`Store.lock` stayed held elsewhere (another request, another replica) for
    longer than the caller would wait."""

    retry_after_s = 1.0
