"""A pool of delivery slots that a courier takes in batches and gives back one by one."""

from __future__ import annotations

import trio


class SlotPool:
    """``size`` slots shared by whoever holds the pool (a source's couriers, or one courier).

    :meth:`take` blocks until at least one slot is free, then takes as many
    as are free up to what was asked, so a courier claims only what it can
    start at once: no claimed item waits for a slot while its lease runs.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a slot pool has at least one slot")
        self.size = size
        self.free = size
        self._freed = trio.Event()

    @property
    def in_use(self) -> int:
        return self.size - self.free

    async def take(self, most: int) -> int:
        """Take between 1 and ``most`` slots; waits while none is free.

        A checkpoint: if cancelled, nothing was taken.
        """
        while self.free == 0:
            await self._freed.wait()
        await trio.lowlevel.checkpoint_if_cancelled()
        taken = min(self.free, most)
        self.free -= taken
        return taken

    def give(self, count: int = 1) -> None:
        """Give back ``count`` slots; wakes whoever waits for one."""
        if count <= 0:
            return
        self.free = min(self.size, self.free + count)
        self._freed.set()
        self._freed = trio.Event()
