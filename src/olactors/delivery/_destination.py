"""The one interface every destination of the engine implements, and what it returns."""

from __future__ import annotations

from typing import Protocol

import msgspec

from ..store import QueueItem


class Delivered(msgspec.Struct, frozen=True):
    """The destination took the item: its status (None for an in-process handler) and
    the start of its answer."""

    status: int | None = None
    response: bytes = b""


class Destination(Protocol):
    """Where queued items go: an app's HTTP endpoint, a Python handler, a channel.

    ``deliver`` makes one attempt: it returns :class:`Delivered`, or raises
    :class:`AttemptFailed` (or :class:`DestinationGone`). Anything else it
    raises counts as a failed attempt too; the engine never lets it crash a
    worker. It must be safe to cancel (the engine cuts attempts at their time
    limit and at shutdown). ``aclose`` releases what the destination holds
    (connection pools); it is called once, when its courier stops.
    """

    async def deliver(self, item: QueueItem) -> Delivered: ...

    async def aclose(self) -> None: ...
