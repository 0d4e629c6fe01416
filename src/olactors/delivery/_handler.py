"""A Python callable as a destination: ``package.module:function``, async or not."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import trio

from ..store import QueueItem
from ._destination import Delivered
from ._errors import AttemptFailed

#: Threads a route's plain-function handler may hold at once (abandoned ones included).
HANDLER_THREADS = 16


def load(target: str) -> Callable[..., Any]:
    """The callable ``target`` names; ValueError (or ImportError) when it cannot be had."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"a handler is 'package.module:function', not {target!r}")
    handler: Any = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise ValueError(f"{target} is not callable")  # noqa: TRY004 -- a bad config value
    return handler  # type: ignore[no-any-return]


class HandlerDestination:
    """Calls the handler with the item; returning is a delivery, raising a failed attempt.

    A coroutine function is awaited; a plain function runs in a worker thread,
    so a handler that blocks cannot freeze the event loop (and with it
    ingress). A thread cannot be stopped: past its time limit it is
    abandoned, the attempt counted failed, and the thread finishes on its own.
    The handler's threads come from ``threads``, never from trio's default
    limiter: the store's calls use that one, and handlers blocked for good
    would otherwise hold every thread it lends, and stop ingress.

    Whatever the handler raises is a failed attempt, ``SystemExit`` and
    ``KeyboardInterrupt`` included: a handler's ``sys.exit()`` is its error,
    not the daemon's shutdown. Only the attempt's own cancellation goes through.
    """

    def __init__(self, target: str, threads: trio.CapacityLimiter | None = None) -> None:
        self.target = target
        self._handler = load(target)
        self._async = inspect.iscoroutinefunction(self._handler)
        self._threads = threads if threads is not None else trio.CapacityLimiter(HANDLER_THREADS)

    async def aclose(self) -> None:
        return None

    async def deliver(self, item: QueueItem) -> Delivered:
        try:
            if self._async:
                await self._handler(item)
            else:
                await trio.to_thread.run_sync(
                    self._handler, item, abandon_on_cancel=True, limiter=self._threads
                )
        except (AttemptFailed, trio.Cancelled):
            raise
        except BaseException as exc:
            if isinstance(exc, BaseExceptionGroup) and exc.subgroup(trio.Cancelled) is not None:
                raise
            raise AttemptFailed(f"handler {self.target}: {type(exc).__name__}: {exc}") from exc
        return Delivered()
