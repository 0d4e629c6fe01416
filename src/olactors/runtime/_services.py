"""What every child of one actor system shares."""

from __future__ import annotations

from dataclasses import dataclass

from ._deadletters import DeadLetterSink
from ._registry import Registry
from ._timer import AskTimer


@dataclass(frozen=True, slots=True)
class SystemServices:
    """The registry of paths, the dead-letter sink and the ask timer of one system."""

    registry: Registry
    dead_letters: DeadLetterSink
    timer: AskTimer
