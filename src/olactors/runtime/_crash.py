"""What counts as a crash: whatever an actor raised, except being cancelled."""

from __future__ import annotations

import trio

#: Not crashes. Trio's cancellation is how a supervisor or a deadline ends a
#: task; Ctrl-C is the operator interrupting the process and must reach the
#: top as it is. Everything else (``SystemExit`` from a handler's
#: ``sys.exit()`` included) is the actor's own failure, for its supervisor.
_NOT_CRASHES: tuple[type[BaseException], ...] = (trio.Cancelled, KeyboardInterrupt)


def is_crash(error: BaseException) -> bool:
    """True if ``error`` (or any leaf of an exception group) is more than a cancellation."""
    if isinstance(error, BaseExceptionGroup):
        _, rest = error.split(_NOT_CRASHES)
        return rest is not None
    return not isinstance(error, _NOT_CRASHES)
