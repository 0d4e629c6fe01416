"""HTTP listeners as supervised actors: hypercorn behind a capped accept loop."""

from ._listener import AppFactory, HttpListener, listener_spec
from ._server import EdgeLimits, serve

__all__ = ["AppFactory", "EdgeLimits", "HttpListener", "listener_spec", "serve"]
