"""What every child of one actor system shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._clock import Clock
from ._dropped import DroppedMessages
from ._registry import Registry
from ._timer import AskTimer


@dataclass(frozen=True, slots=True)
class SystemServices:
    """The registry of paths, the dropped messages, the ask timer, the halt switch, the clock."""

    registry: Registry
    dropped: DroppedMessages
    timer: AskTimer
    #: ``ActorSystem.halt``: stop the whole system on purpose (reason, exit code).
    halt: Callable[[str, int], None]
    clock: Clock
