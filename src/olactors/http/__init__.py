"""HTTP listeners as supervised actors: hypercorn behind a capped accept loop."""

from ._addresses import bind_host, is_loopback
from ._listener import AppFactory, HttpListener, listener_spec
from ._server import EdgeLimits, serve

__all__ = [
    "AppFactory",
    "EdgeLimits",
    "HttpListener",
    "bind_host",
    "is_loopback",
    "listener_spec",
    "serve",
]
