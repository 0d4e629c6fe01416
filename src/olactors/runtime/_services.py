"""What every child of one actor system shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._deadletters import DeadLetterSink
from ._registry import Registry
from ._timer import AskTimer


@dataclass(frozen=True, slots=True)
class SystemServices:
    """The registry of paths, the dead-letter sink, the ask timer and the halt switch."""

    registry: Registry
    dead_letters: DeadLetterSink
    timer: AskTimer
    #: ``ActorSystem.halt``: stop the whole system on purpose (reason, exit code).
    halt: Callable[[str, int], None]
