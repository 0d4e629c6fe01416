"""Log set-up for the daemon: one line per record, with the actor's path when known."""

from __future__ import annotations

import logging
import sys


class _ActorFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        actor = getattr(record, "actor", None)
        record.where = f" [{actor}]" if actor else ""
        return super().format(record)


def configure(level: str) -> None:
    """Send olactors' logs to stderr at ``level``. Idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _ActorFormatter("%(asctime)s %(levelname)-8s %(name)s%(where)s: %(message)s")
    )
    logger = logging.getLogger("olactors")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
