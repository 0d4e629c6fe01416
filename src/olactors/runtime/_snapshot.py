"""Point-in-time views of actors and supervisors, for operators."""

from __future__ import annotations

import time
import traceback
from collections import deque
from enum import StrEnum
from typing import Any

import msgspec


class Status(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"


class ErrorInfo(msgspec.Struct, frozen=True):
    """The last crash of a child: what, when (unix time) and where."""

    type: str
    message: str
    at: float
    traceback: str

    @classmethod
    def from_exception(cls, error: BaseException, *, limit: int = 8) -> ErrorInfo:
        error = unwrap_group(error)
        lines = traceback.format_exception(error, limit=limit)
        return cls(
            type=type(error).__name__,
            message=str(error),
            at=time.time(),
            traceback="".join(lines)[-4000:],
        )


class ActorSnapshot(msgspec.Struct, frozen=True, tag="actor"):
    path: str
    name: str
    kind: str
    status: Status
    mailbox_depth: int
    mailbox_capacity: int
    handled: int
    rate_per_s: float
    restarts_total: int
    restarts_in_window: int
    last_error: ErrorInfo | None
    uptime_s: float | None
    state: dict[str, Any]


class SupervisorSnapshot(msgspec.Struct, frozen=True, tag="supervisor"):
    path: str
    name: str
    kind: str
    status: Status
    strategy: str
    max_restarts: int
    within_s: float
    #: Restarts this supervisor made within its own intensity window.
    intensity_used: int
    restarts_total: int
    restarts_in_window: int
    last_error: ErrorInfo | None
    uptime_s: float | None
    children: list[ActorSnapshot | SupervisorSnapshot]


Snapshot = ActorSnapshot | SupervisorSnapshot


def unwrap_group(error: BaseException) -> BaseException:
    """The single error inside nested one-element exception groups, else ``error``."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class RateMeter:
    """Messages per second over a sliding window, from occasional samples.

    The hot path only bumps a counter; the actor loop calls :meth:`observe`
    when it goes idle or every few dozen messages, which keeps one sample per
    second of activity. The count at the window's start is the newest sample
    taken at or before it (the count is a step function between samples).
    """

    __slots__ = ("_samples", "window_s")

    def __init__(self, now: float, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._samples: deque[list[float]] = deque([[now, 0.0]])

    def observe(self, now: float, total: int) -> None:
        samples = self._samples
        last = samples[-1]
        if int(last[0]) == int(now):
            last[1] = total
        else:
            samples.append([now, float(total)])
        start = now - self.window_s
        while len(samples) > 1 and samples[1][0] <= start:
            samples.popleft()

    def rate(self, now: float, total: int) -> float:
        start = now - self.window_s
        first_t, first_total = self._samples[0]
        if first_t <= start:
            # Count at the window's start is the newest sample not after it.
            base = first_total
            for t, count in self._samples:
                if t > start:
                    break
                base = count
            return (total - base) / self.window_s
        elapsed = now - first_t
        return (total - first_total) / elapsed if elapsed > 0 else 0.0
