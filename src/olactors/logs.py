"""Log set-up for the daemon: one JSON object per line, or readable lines on a terminal."""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Literal

LogFormat = Literal["auto", "json", "text"]

#: Record attributes that carry context, when a log call passes them in ``extra``.
CONTEXT = ("actor", "event_id", "source")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "actor"?, "event_id"?, "source"?, "message", "exc"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
        }
        for key in CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        actor = getattr(record, "actor", None)
        record.where = f" [{actor}]" if actor else ""
        return super().format(record)


def configure(level: str, log_format: LogFormat = "auto") -> None:
    """Send olactors' logs to stderr at ``level``: JSON lines unless stderr is a
    terminal (``auto``), or as asked. Idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            _TextFormatter("%(asctime)s %(levelname)-8s %(name)s%(where)s: %(message)s")
        )
    for name in ("olactors", "hypercorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
