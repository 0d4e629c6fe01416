"""An HTTP listener as a supervised actor: hypercorn (trio worker) serving an ASGI app."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig

from ..runtime import Actor, ActorContext, ActorSpec
from ._server import EdgeLimits, serve

log = logging.getLogger("olactors.http")

#: Builds the app from the listener's context, once it can look its
#: collaborators up (the store, the tree...).
#: The event is set when the listener starts to shut down, so that responses
#: that would never end on their own (a server-sent event stream) end then,
#: instead of holding the shutdown for the whole graceful timeout.
AppFactory = Callable[[ActorContext, trio.Event], Any]


class BindFailed(OSError):
    """A listener could not listen on its address (in use, not this host's, no permission)."""


def bind_failed(name: str, bind: str, setting: str, cause: OSError) -> BindFailed:
    """The error for ``name`` failing to bind ``bind`` (from config key ``setting``)."""
    where = f" ({setting})" if setting else ""
    reason = (cause.strerror or str(cause)).lower()
    return BindFailed(f"the {name} listener cannot listen on {bind}{where}: {reason}")


class HttpListener(Actor[Any]):
    """Binds in ``started()`` (a port in use fails the start, with the reason),
    serves until stopped, and stops gracefully: no new connections, in-flight
    requests finish within ``graceful_timeout_s``, then the actor ends.

    Put listeners last in the tree: an orderly shutdown stops them first, so
    nothing new comes in while the actors behind them drain.

    With ``fd`` (a socket a parent process bound and handed down, see
    ``processes``) it serves that socket instead of binding: each start
    serves a duplicate of the descriptor, since stopping closes what it
    served and a restart must find the socket still there.
    """

    def __init__(
        self,
        name: str,
        bind: str,
        app: AppFactory,
        *,
        graceful_timeout_s: float = 10.0,
        header_timeout_s: float = 5.0,
        limits: EdgeLimits | None = None,
        setting: str = "",
        fd: int | None = None,
    ) -> None:
        self.name = name
        self.bind = bind
        self.fd = fd
        #: The config key ``bind`` came from, named when it cannot be bound.
        self.setting = setting
        self.app = app
        self.graceful_timeout_s = graceful_timeout_s
        self.header_timeout_s = header_timeout_s
        self.limits = limits if limits is not None else EdgeLimits()
        self.addresses: list[str] = []
        self._stop = trio.Event()
        self._served = trio.Event()

    async def started(self) -> None:
        app = self.app(self.context, self._stop)
        # The duplicate is made last: from here hypercorn owns it and closes it.
        bind = self.bind if self.fd is None else f"fd://{os.dup(self.fd)}"
        config = hypercorn_config(bind, self.graceful_timeout_s, self.header_timeout_s)
        try:
            self.addresses = await self.context.nursery.start(self._serve, app, config)
        except BaseException as exc:
            # Binding fails inside the serving task: its OSError comes out of
            # start() in a one-error group.
            cause = exc
            while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
                cause = cause.exceptions[0]
            if not isinstance(cause, OSError):
                raise
            raise bind_failed(self.name, self.bind, self.setting, cause) from cause
        log.info("%s listener on %s", self.name, ", ".join(self.addresses))

    async def _serve(
        self, app: Any, config: HypercornConfig, *, task_status: trio.TaskStatus[list[str]]
    ) -> None:
        try:
            await serve(
                app,
                config,
                self.limits,
                name=self.name,
                shutdown_trigger=self._stop.wait,
                task_status=task_status,
            )
        finally:
            self._served.set()

    async def receive(self, message: Any) -> None:
        raise TypeError(f"the {self.name} listener takes no messages")

    async def stopping(self) -> None:
        self._stop.set()
        await self._served.wait()
        log.info("%s listener stopped", self.name)

    def inspect(self) -> dict[str, Any]:
        return {"listener": self.name, "addresses": self.addresses}


def hypercorn_config(
    bind: str, graceful_timeout_s: float, header_timeout_s: float
) -> HypercornConfig:
    """Hypercorn's settings for one listener."""
    config = HypercornConfig()
    config.bind = [bind]
    config.accesslog = None
    # Hypercorn's own errors (a traceback from a protocol handler) go to our
    # logger tree, so the daemon's formatter (JSON in production) writes
    # them, not a stderr handler of hypercorn's.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = graceful_timeout_s
    # A connection is idle until its request's headers are complete, so the
    # idle timeout is the header deadline: a client dribbling its headers is
    # closed after it (the body has its own, in the app).
    config.keep_alive_timeout = header_timeout_s
    return config


def listener_spec(
    name: str,
    bind: str,
    app: AppFactory,
    *,
    graceful_timeout_s: float,
    settle_s: float,
    header_timeout_s: float = 5.0,
    limits: EdgeLimits | None = None,
    setting: str = "",
    fd: int | None = None,
) -> ActorSpec:
    """A listener's child spec, its shutdown timeout derived from its graceful timeout.

    The actor's shutdown timeout is the graceful timeout plus ``settle_s``
    (room for the work behind a last request, a store answer, say): one
    shorter than the graceful timeout would turn every orderly shutdown with
    a request (or a dashboard stream) open into a kill. ``fd`` is a socket
    handed down by a parent process, served instead of binding ``bind``.
    """
    if not (math.isfinite(graceful_timeout_s) and graceful_timeout_s >= 0):
        raise ValueError(f"{name}: graceful_timeout_s must be finite and >= 0")
    if not (math.isfinite(settle_s) and settle_s >= 0):
        raise ValueError(f"{name}: settle_s must be finite and >= 0")
    return ActorSpec(
        name,
        lambda: HttpListener(
            name,
            bind,
            app,
            graceful_timeout_s=graceful_timeout_s,
            header_timeout_s=header_timeout_s,
            limits=limits,
            setting=setting,
            fd=fd,
        ),
        shutdown_timeout_s=graceful_timeout_s + settle_s,
    )
