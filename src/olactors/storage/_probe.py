"""``/root/storage/<provider>``: one actor per store, asking it every ``probe_s`` whether
it answers, through the same breaker as the uploads (a success closes a breaker that
waits for one), and showing the answer in the admin tree. When the primary answers
again after failing, the migration courier is woken to bring files home at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from ..runtime import Actor, ActorContext
from ._objects import ObjectStore, StorageError

log = logging.getLogger("olactors.storage")


class ProbeActor(Actor[Any]):
    def __init__(
        self,
        name: str,
        store: Callable[[ActorContext], ObjectStore],
        probe_s: float,
        on_recovery: Callable[[ActorContext], None] | None = None,
    ) -> None:
        self.name = name
        self._make = store
        self.probe_s = probe_s
        self.on_recovery = on_recovery
        self.healthy: bool | None = None
        self.last_error: str | None = None
        self.checked_at: float | None = None

    async def started(self) -> None:
        self.store = self._make(self.context)
        self.context.close_at_end(self.store.aclose)
        self.context.nursery.start_soon(self._every)

    async def receive(self, message: Any) -> None:
        raise TypeError("a storage probe takes no messages")

    async def _every(self) -> None:
        while True:
            await self.check()
            await trio.sleep(self.probe_s)

    async def check(self) -> None:
        was = self.healthy
        try:
            await self.store.probe()
        except StorageError as exc:
            self.healthy, self.last_error = False, str(exc)[:300]
            if was is not False:
                log.warning("storage: %s does not answer: %s", self.name, exc)
        else:
            self.healthy, self.last_error = True, None
            if was is False:
                log.info("storage: %s answers again", self.name)
                if self.on_recovery is not None:
                    self.on_recovery(self.context)
        self.checked_at = self.context.clock()

    def inspect(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "healthy": self.healthy,
            "last_error": self.last_error,
            "checked_at": self.checked_at,
        }
