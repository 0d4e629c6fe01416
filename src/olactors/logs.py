"""Log set-up for the daemon: one JSON object per line, or readable lines on a terminal."""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

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


class RepeatLimiter(logging.Handler):
    """Passes records on to ``inner``, folding repeats of a warning or error into one line.

    A record repeats another when it comes from the same logger and line with
    the same message template, for the same actor or source (its arguments
    may differ: one line per refused request during an outage is the case in
    point). The first of a burst goes
    out at once; the rest within ``window_s`` are counted, and the count is
    told with the next one after the window, or on its own line once the
    window has passed and any other record is logged (or at ``flush``).
    Records below WARNING are never held back.
    """

    def __init__(
        self,
        inner: logging.Handler,
        *,
        window_s: float = 10.0,
        max_keys: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._bursts: OrderedDict[tuple[object, ...], _Burst] = OrderedDict()

    def emit(self, record: logging.LogRecord) -> None:
        now = self._clock()
        self._report_expired(now)
        if record.levelno < logging.WARNING:
            self.inner.handle(record)
            return
        # Whose line it is counts too: two actors crashing are two stories.
        key = (
            record.name,
            record.lineno,
            record.msg,
            getattr(record, "actor", None),
            getattr(record, "source", None),
        )
        burst = self._bursts.get(key)
        if burst is not None and now - burst.start < self.window_s:
            burst.held += 1
            burst.last = record
            return
        if burst is not None:
            self._report(burst)
        self._bursts[key] = _Burst(now)
        self._bursts.move_to_end(key)
        while len(self._bursts) > self.max_keys:
            self._report(self._bursts.popitem(last=False)[1])
        self.inner.handle(record)

    def flush(self) -> None:
        for burst in self._bursts.values():
            self._report(burst)
        self.inner.flush()

    def _report_expired(self, now: float) -> None:
        for burst in self._bursts.values():
            if burst.held and now - burst.start >= self.window_s:
                self._report(burst)

    def _report(self, burst: _Burst) -> None:
        last = burst.last
        if not burst.held or last is None:
            return
        summary = logging.makeLogRecord(last.__dict__)
        summary.msg = (
            f"{last.getMessage()} (and {burst.held} more like it within {self.window_s:g} s)"
        )
        summary.args = None
        summary.exc_info = summary.exc_text = None
        burst.held, burst.last = 0, None
        self.inner.handle(summary)


@dataclass(slots=True)
class _Burst:
    """Repeats of one message: when the window began, how many were held back, the last."""

    start: float
    held: int = 0
    last: logging.LogRecord | None = None


class _WithoutQueries(logging.Filter):
    """httpx logs each request's URL at INFO, and a URL's query can carry credentials
    (Graph API tokens, Instagram's client_secret on its token exchange, a signing
    token in an endpoint's URL): its records keep the URL without the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


def hide_url_queries() -> None:
    """Keep query strings out of httpx's log records, wherever they are sent. Idempotent."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _WithoutQueries) for f in logger.filters):
        logger.addFilter(_WithoutQueries())


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
    # During an outage every refused request would log its own line: repeats
    # of a warning or an error fold into one line with a count.
    limited = RepeatLimiter(handler)
    for name in ("olactors", "hypercorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [limited]
        logger.setLevel(level)
        logger.propagate = False
