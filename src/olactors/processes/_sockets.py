"""The parent's side of sharing the listeners: bind each one once, before any child starts.

A socket bound and listening in the parent holds connections in its backlog
while no child accepts (all of them restarting, say): a client waits instead
of being refused. The children inherit the descriptors and accept on them.
"""

from __future__ import annotations

import socket

from ..config import Config
from ..http import BindFailed, bind_failed, hypercorn_config


def listener_binds(config: Config) -> dict[str, tuple[str, str]]:
    """``{listener: (bind, setting)}`` for every listener the daemon opens."""
    return {
        "public": (config.server.public_bind, "server.public_bind"),
        "admin": (config.admin.bind, "admin.bind"),
        "api": (config.api.bind, "api.bind"),
    }


def bind_listeners(config: Config) -> dict[str, socket.socket]:
    """Every listener's socket, bound and listening, inheritable by a child.

    :class:`BindFailed` names the first that cannot be bound (what is bound
    before it is closed again).
    """
    bound: dict[str, socket.socket] = {}
    try:
        for name, (bind, setting) in listener_binds(config).items():
            # Hypercorn's own binding, so a child serves the socket exactly
            # as it would have bound it itself.
            settings = hypercorn_config(bind, 0.0, 1.0)
            try:
                (sock,) = settings.create_sockets().insecure_sockets
                sock.listen(settings.backlog)
            except OSError as exc:
                raise bind_failed(name, bind, setting, exc) from exc
            bound[name] = sock
    except BindFailed:
        for sock in bound.values():
            sock.close()
        raise
    return bound
