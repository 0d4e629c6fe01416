"""The small, swappable part of the store: a backend runs batches of commands.

Everything a backend does is blocking (sqlite3, redis-py) and runs in a
worker thread, one batch per thread hop; the store actor around it does the
batching, the replies and the back-off. A backend is used by one thread at a
time and never touched from the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from ._commands import Command

#: What a batch yields per command: the result, or the StoreError to raise.
Outcome = Any

#: The store's two actors: the writer commits, the reader answers reads beside it.
Role = Literal["writer", "reader"]


class Backend(Protocol):
    """A store engine. Implementations: ``SqliteBackend``, ``RedisBackend``."""

    #: A short name for logs and snapshots ("sqlite", "redis").
    name: str

    def open(self) -> None:
        """Connect and prepare (schema, scripts). Raises StoreUnavailable."""

    def execute(self, batch: list[Command]) -> list[Outcome]:
        """Run ``batch`` as one unit of durability and return one outcome per command.

        Returns only once the writes are durable (committed and fsynced, or
        acknowledged by Redis). A failure of the whole batch raises
        :class:`StoreUnavailable`; an error that concerns one command (a lost
        lease, a missing item) is returned in its place as an exception
        instance.
        """

    def close(self) -> None:
        """Release connections. Never raises."""

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for ``inspect()``: path, URL without password, mode."""


#: Builds a fresh backend for a role at each (re)start of that role's actor.
BackendFactory = Callable[[Role], Backend]
