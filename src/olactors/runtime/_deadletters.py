"""Where messages go when no actor will ever handle them."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

log = logging.getLogger("olactors.runtime.deadletters")


class DeadLetter(msgspec.Struct, frozen=True):
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


Subscriber = Callable[[DeadLetter], None]


class DeadLetterSink:
    """Receives every dead letter of an actor system.

    Keeps the most recent ``capacity`` letters for inspection, logs each one
    (the message's type, never its content: it may carry secrets), and hands
    each to the subscribers, synchronously and in order. A subscriber must
    not block; one that raises is logged and skipped, never allowed to break
    the actor that produced the letter.
    """

    def __init__(self, capacity: int = 1000) -> None:
        self.recent: deque[DeadLetter] = deque(maxlen=capacity)
        self.total = 0
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(
        self,
        path: str,
        message: object,
        *,
        reason: str,
        crashes: int = 0,
        error: BaseException | None = None,
    ) -> DeadLetter:
        letter = DeadLetter(
            path=path,
            message=message,
            reason=reason,
            crashes=crashes,
            error_type=type(error).__name__ if error is not None else None,
            error=str(error) if error is not None else None,
            at=time.time(),
        )
        self.recent.append(letter)
        self.total += 1
        log.warning(
            "dead letter from %s: %s (%s, %d crashes, %s)",
            path,
            type(message).__name__,
            reason,
            crashes,
            letter.error_type,
            extra={"actor": path},
        )
        for subscriber in self._subscribers:
            try:
                subscriber(letter)
            except Exception:
                log.exception("dead-letter subscriber %r failed", subscriber)
        return letter
