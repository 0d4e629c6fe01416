"""Declarative child specifications, as in an OTP supervisor's child list."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class Strategy(StrEnum):
    """Which siblings restart when one child must restart."""

    ONE_FOR_ONE = "one_for_one"  #: only the child itself
    ONE_FOR_ALL = "one_for_all"  #: every child
    REST_FOR_ONE = "rest_for_one"  #: the child and the ones started after it


class Restart(StrEnum):
    """When a child that ended is started again."""

    PERMANENT = "permanent"  #: always
    TRANSIENT = "transient"  #: only after a crash, not after a normal exit
    TEMPORARY = "temporary"  #: never; it is removed when it ends


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before a restart: exponential in the child's recent restarts, with jitter.

    The n-th restart of a child since it was last stable waits
    ``min(max_s, initial_s * multiplier ** (n - 1))``, shortened by a random
    fraction up to ``jitter`` so that siblings do not restart in step.

    A child is stable once an incarnation has run ``reset_after_s`` before
    ending; its count starts again from there. Past ``max_tries`` restarts
    without being stable the supervisor gives up and escalates, as Akka's
    backoff supervisor does: intensity catches a fast crash loop, this a
    slow one that backoff alone would keep alive forever (None: no limit).
    """

    initial_s: float = 0.05
    multiplier: float = 2.0
    max_s: float = 5.0
    jitter: float = 0.5
    reset_after_s: float = 30.0
    max_tries: int | None = 10

    def __post_init__(self) -> None:
        if not (
            _finite_at_least(self.initial_s, 0)
            and _finite_at_least(self.max_s, 0)
            and _finite_at_least(self.multiplier, 1)
        ):
            raise ValueError("backoff needs finite initial_s >= 0, max_s >= 0 and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter is a fraction between 0 and 1")
        if not _finite_at_least(self.reset_after_s, 0):
            raise ValueError("backoff reset_after_s must be finite and >= 0")
        if self.max_tries is not None and self.max_tries < 1:
            raise ValueError("backoff max_tries must be at least 1 (or None: no limit)")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), 64)  # bounded: the cap applies long before
        base = min(self.max_s, self.initial_s * self.multiplier**exponent)
        return base * (1.0 - self.jitter * rand())


class ActorLike(Protocol):
    """What a spec's factory makes, as far as a spec knows: an ``Actor`` (the cell
    checks it is one). Structural, so that specs, plain data, import no actor code."""

    async def started(self) -> None: ...

    async def receive(self, message: Any) -> Any: ...

    async def stopping(self) -> None: ...


def _finite_at_least(value: float, low: float) -> bool:
    return math.isfinite(value) and value >= low


def _check_timeout(owner: str, timeout_s: float | None) -> None:
    """A shutdown timeout is a finite number of seconds >= 0, or None (no limit)."""
    if timeout_s is not None and not _finite_at_least(timeout_s, 0):
        raise ValueError(
            f"{owner}: shutdown_timeout_s must be finite and >= 0 (or None), not {timeout_s}"
        )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"child name {name!r} must match {_NAME.pattern}")


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """How to start one actor and what to do when it ends.

    ``factory`` builds a fresh actor instance at each (re)start: state does
    not survive a crash, but the mailbox does. A message whose handling
    crashes the actor ``max_message_crashes`` times in a row is dead-lettered.
    On shutdown the actor may drain its mailbox for ``shutdown_timeout_s``
    (None: no limit) before it is cancelled.
    """

    name: str
    factory: Callable[[], ActorLike]
    restart: Restart = Restart.PERMANENT
    mailbox_capacity: int = 1000
    max_message_crashes: int = 3
    shutdown_timeout_s: float | None = 5.0

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.mailbox_capacity < 1:
            raise ValueError("mailbox_capacity must be at least 1")
        if self.max_message_crashes < 1:
            raise ValueError("max_message_crashes must be at least 1")
        _check_timeout(self.name, self.shutdown_timeout_s)


@dataclass(frozen=True, slots=True)
class SupervisorSpec:
    """A supervisor: its children in start order, its strategy and restart intensity.

    More than ``max_restarts`` restarts within ``within_s`` seconds make the
    supervisor stop its children and fail, which its own parent handles as a
    crash (escalation). Defaults are OTP's: 1 restart in 5 seconds.
    Supervisors default to no shutdown limit: their children carry their own.
    """

    name: str
    children: Sequence[ActorSpec | SupervisorSpec] = ()
    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 1
    within_s: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)
    restart: Restart = Restart.PERMANENT
    shutdown_timeout_s: float | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.max_restarts < 0 or not (math.isfinite(self.within_s) and self.within_s > 0):
            raise ValueError("max_restarts must be >= 0 and within_s finite and > 0")
        _check_timeout(self.name, self.shutdown_timeout_s)
        counts = Counter(child.name for child in self.children)
        duplicates = sorted(name for name, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"supervisor {self.name!r} has duplicate children: {duplicates}")


ChildSpec = ActorSpec | SupervisorSpec
