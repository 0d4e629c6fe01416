"""The chaos suite's Python route handler: it fails as ``$CHAOS_HANDLER_MODE_FILE`` says.

Imported by the daemon (the route's ``handler = "chaos_handler:deliver"``),
not by the script. Modes: ``raise`` (an exception of a kind picked at
random, a ``SystemExit`` among them), ``block`` (sleeps far past the
route's time limit), ``ok`` (hands the event to the chaos app over HTTP, as
a forwarding route would, and returns).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import httpx

from olactors.store import QueueItem

#: What a handler may throw at the daemon: anything, its own errors and the
#: interpreter's alike.
FAILURES: list[type[BaseException]] = [
    ValueError,
    KeyError,
    RuntimeError,
    ZeroDivisionError,
    MemoryError,
    RecursionError,
    UnicodeDecodeError,
    SystemExit,
]


def deliver(item: QueueItem) -> None:
    mode = Path(os.environ["CHAOS_HANDLER_MODE_FILE"]).read_text().strip()
    if mode == "raise":
        kind = random.choice(FAILURES)
        if kind is UnicodeDecodeError:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "chaos")
        raise kind(f"chaos: {kind.__name__} for {item.id}")
    if mode == "block":
        time.sleep(10)  # five times the time limit; the abandoned thread ends on its own
    answer = httpx.post(
        f"{os.environ['CHAOS_APP_URL']}/hooks",
        content=item.payload,
        headers={"webhook-id": item.id},
        timeout=10,
    )
    answer.raise_for_status()
