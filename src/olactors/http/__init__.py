"""HTTP listeners as supervised actors: hypercorn behind a capped accept loop."""

from ._addresses import bind_host, is_loopback, reach, split_bind
from ._dispatch import App, Mount, PrefixDispatcher, answer_lifespan, mounted
from ._errors import HttpError, closes_after, retry_after
from ._gate import BodyIdle, gate_bodies, gated_chunks
from ._listener import (
    AppFactory,
    BindFailed,
    HttpListener,
    bind_failed,
    hypercorn_config,
    listener_spec,
)
from ._server import MAX_REFUSING, EdgeLimits, serve, served_address

__all__ = [
    "MAX_REFUSING",
    "App",
    "AppFactory",
    "BindFailed",
    "BodyIdle",
    "EdgeLimits",
    "HttpError",
    "HttpListener",
    "Mount",
    "PrefixDispatcher",
    "answer_lifespan",
    "bind_failed",
    "bind_host",
    "closes_after",
    "gate_bodies",
    "gated_chunks",
    "hypercorn_config",
    "is_loopback",
    "listener_spec",
    "mounted",
    "reach",
    "retry_after",
    "serve",
    "served_address",
    "split_bind",
]
