"""Point-in-time views of actors and supervisors, for operators."""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Iterator
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
    def from_exception(cls, error: BaseException, *, at: float, limit: int = 8) -> ErrorInfo:
        error = unwrap_group(error)
        lines = traceback.format_exception(error, limit=limit)
        return cls(
            type=type(error).__name__,
            message=str(error),
            at=at,
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
    #: Restarts since it last stayed up its backoff's ``reset_after_s``.
    restarts_since_stable: int
    crash_looping: bool
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
    restarts_since_stable: int
    crash_looping: bool
    last_error: ErrorInfo | None
    uptime_s: float | None
    children: list[ActorSnapshot | SupervisorSnapshot]


Snapshot = ActorSnapshot | SupervisorSnapshot


def walk(node: Snapshot) -> Iterator[Snapshot]:
    """``node`` and everything under it, parents before their children, in start order."""
    yield node
    if isinstance(node, SupervisorSnapshot):
        for child in node.children:
            yield from walk(child)


def unwrap_group(error: BaseException) -> BaseException:
    """The single error inside nested one-element exception groups, else ``error``."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class RateMeter:
    """Messages per second over a sliding window, from occasional samples.

    The hot path only bumps a counter; the actor loop calls :meth:`observe`
    when it goes idle and every few dozen messages. Samples are kept at least
    a second apart (a newer one within the second replaces the last, never
    the first). The count at the window's start is interpolated between the
    samples around it, so an actor sampled rarely (slow handlers, never idle)
    is still measured over the window and not over the gap between samples.
    """

    __slots__ = ("_samples", "window_s")

    def __init__(self, now: float, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque([(now, 0)])

    def observe(self, now: float, total: int) -> None:
        samples = self._samples
        if len(samples) > 1 and now - samples[-2][0] < 1.0:
            samples[-1] = (now, total)
        else:
            samples.append((now, total))
        start = now - self.window_s
        while len(samples) > 2 and samples[1][0] <= start:
            samples.popleft()

    def rate(self, now: float, total: int) -> float:
        start = now - self.window_s
        first_t, first_count = self._samples[0]
        if first_t >= start:
            elapsed = now - first_t
            return (total - first_count) / elapsed if elapsed > 0 else 0.0
        # Bracket the window's start between two samples (the last one being now).
        points = [*self._samples, (now, total)]
        before = points[0]
        for point in points[1:]:
            if point[0] > start:
                t0, c0 = before
                t1, c1 = point
                at_start = c0 + (c1 - c0) * (start - t0) / (t1 - t0)
                return (total - at_start) / self.window_s
            before = point
        return 0.0
