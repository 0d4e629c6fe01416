"""Several daemon processes as one: a parent sharing the listeners' sockets with its
children (``[server] processes``), and every process's presence in the store, which
the admin lists (``GET /processes``) for replicas and processes alike."""

from ._handover import HANDOVER_ENV, LISTENERS, Handover
from ._lifeline import watch_lifeline
from ._parent import ProcessParent
from ._presence import (
    PRESENCE_PATH,
    PRESENCE_PREFIX,
    Presence,
    ProcessRecord,
    live_processes,
    presence_spec,
    process_id,
)
from ._sockets import bind_listeners, listener_binds

__all__ = [
    "HANDOVER_ENV",
    "LISTENERS",
    "PRESENCE_PATH",
    "PRESENCE_PREFIX",
    "Handover",
    "Presence",
    "ProcessParent",
    "ProcessRecord",
    "bind_listeners",
    "listener_binds",
    "live_processes",
    "presence_spec",
    "process_id",
    "watch_lifeline",
]
