"""What a parent hands each daemon process it starts: its place among them and the sockets.

The parent binds every listener once and passes the bound sockets down as
inherited descriptors (``pass_fds``): the children accept on the same sockets,
and the kernel gives each connection to one of them. The handover travels in
one environment variable, read where the tree is built (``build_tree`` takes
the environment), so nothing else reads the environment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

import msgspec

from ..config import ConfigError

#: Each listener a daemon opens, by name.
LISTENERS = ("public", "admin", "api")

#: The environment variable a child finds its handover in.
HANDOVER_ENV = "OLACTORS_HANDOVER"


class Handover(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: This process's place, 0 to ``count`` - 1 (a restarted child keeps its place).
    index: int
    count: int
    #: The parent's pid: the admin shows which processes are siblings.
    parent: int
    #: Each listener's name (public, admin, api) and its inherited descriptor.
    sockets: dict[str, int]
    #: How many times the parent has started this place: 0 for the first start.
    restarts: int = 0
    #: The read end of a pipe whose write end only the parent holds: it reads
    #: end-of-file when the parent is gone, however it died.
    lifeline: int | None = None
    #: The write end of a pipe the parent reads: one byte once the daemon is up.
    ready: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"index {self.index} is not a place of {self.count}")
        for name, fd in self.sockets.items():
            if name not in LISTENERS or fd < 0:
                raise ValueError(f"no listener {name!r} on descriptor {fd}")

    def encode(self) -> str:
        return msgspec.json.encode(self).decode()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Handover | None:
        """The handover this process was started with; None for a process on its own."""
        raw = env.get(HANDOVER_ENV)
        if not raw:
            return None
        try:
            return msgspec.json.decode(raw, type=cls)
        except msgspec.DecodeError as exc:  # ValidationError is one
            raise ConfigError(f"{HANDOVER_ENV} is not a handover from olactors: {exc}") from None

    def say_ready(self) -> None:
        """Tell the parent this daemon is up (its tree started); once."""
        if self.ready is not None:
            with contextlib.suppress(OSError):  # a parent gone hears nothing
                os.write(self.ready, b"r")
                os.close(self.ready)

    def close_sockets(self) -> None:
        """Close the inherited listener descriptors (the listeners serve duplicates)."""
        for fd in self.sockets.values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def socket(self, listener: str) -> int | None:
        """The descriptor of ``listener``'s socket, if the parent bound it."""
        return self.sockets.get(listener)
