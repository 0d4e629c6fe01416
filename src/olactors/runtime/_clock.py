"""The one clock the daemon reads the time of day from."""

from __future__ import annotations

from collections.abc import Callable

#: Returns the wall time in unix seconds, for times that are reported or
#: stored (an error's time, a lease's expiry, a webhook's age). Durations
#: and timeouts use ``trio.current_time()`` instead. Built once, at the top
#: (``ActorSystem(clock=...)``), and handed down; actors read it from their
#: context. Tests pass a fake to move time without waiting.
Clock = Callable[[], float]
