"""Where messages go when no actor will ever handle them."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import msgspec

from ._clock import Clock

log = logging.getLogger("olactors.runtime.dropped")


class DroppedMessage(msgspec.Struct, frozen=True):
    """A message given up on, with why.

    ``reason`` is ``"poison"`` when handling it crashed its actor
    ``crashes`` times in a row, or ``"stopped"`` when its actor stopped for
    good with the message still queued.
    """

    path: str
    message: Any
    reason: str
    crashes: int
    error_type: str | None
    error: str | None
    at: float


class DroppedMessages:
    """Every message of an actor system that no actor will ever handle.

    (Akka and Erlang call these dead letters; here that name is kept for
    the store's deliveries that ran out of attempts, which operators see.)
    Keeps the most recent ``capacity`` for inspection and logs each one
    (the message's type, never its content: it may carry secrets).
    """

    def __init__(self, capacity: int = 1000, *, clock: Clock = time.time) -> None:
        self.recent: deque[DroppedMessage] = deque(maxlen=capacity)
        self.total = 0
        self._clock = clock

    def publish(
        self,
        path: str,
        message: object,
        *,
        reason: str,
        crashes: int = 0,
        error: BaseException | None = None,
    ) -> DroppedMessage:
        dropped = DroppedMessage(
            path=path,
            message=message,
            reason=reason,
            crashes=crashes,
            error_type=type(error).__name__ if error is not None else None,
            error=str(error) if error is not None else None,
            at=self._clock(),
        )
        self.recent.append(dropped)
        self.total += 1
        log.warning(
            "message to %s dropped: %s (%s, %d crashes, %s)",
            path,
            type(message).__name__,
            reason,
            crashes,
            dropped.error_type,
            extra={"actor": path},
        )
        return dropped
