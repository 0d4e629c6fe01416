"""Several daemon processes as one: a parent sharing the listeners' sockets with its
children (``[server] processes``), and every process's presence in the store, which
the admin lists (``GET /processes``) for replicas and processes alike."""

from ._handover import HANDOVER_ENV, Handover, handed_down
from ._lifeline import watch_lifeline
from ._parent import ProcessParent
from ._presence import (
    PRESENCE_PATH,
    PRESENCE_PREFIX,
    Presence,
    ProcessRecord,
    presence_spec,
    process_id,
    processes,
)
from ._sockets import LISTENERS, bind_listeners, listener_binds, served_address

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
    "handed_down",
    "listener_binds",
    "presence_spec",
    "process_id",
    "processes",
    "served_address",
    "watch_lifeline",
]
