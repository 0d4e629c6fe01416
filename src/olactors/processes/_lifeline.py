"""A child stops in order when its parent is gone, however the parent died.

The parent holds the only write end of a pipe; each child inherits the read
end. Nothing is ever written: when the parent exits (a SIGKILL included) the
kernel closes its end and the child's read end becomes readable, at end of
file. Linux's ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread*
that started the child ends, and trio starts processes from worker threads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import trio

log = logging.getLogger("olactors.processes")


async def watch_lifeline(lifeline: int, on_gone: Callable[[], None]) -> None:
    """Call ``on_gone`` once the parent's end of ``lifeline`` has closed; else wait forever."""
    while True:
        await trio.lowlevel.wait_readable(lifeline)
        if os.read(lifeline, 1) == b"":
            log.warning("the parent process is gone: stopping in order")
            on_gone()
            return
