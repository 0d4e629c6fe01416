"""Ask deadlines, kept by one task per actor system instead of a cancel scope per ask."""

from __future__ import annotations

import heapq
import math

import trio

from ._reply import Reply

#: Deadlines are rounded up to this many seconds, so that asks made together
#: share one bucket and the timer wakes at most this often.
GRAIN_S = 0.01


class AskTimer:
    """Times out asks whose reply is overdue.

    A cancel scope per ask costs about a quarter of the ask (trio registers
    and unregisters its deadline). Here an ask costs a set insertion: replies
    sit in buckets of :data:`GRAIN_S`, and one task sleeps until the earliest
    bucket is due, then times out whatever in it is still waiting. A reply
    that is answered leaves its bucket at once, so only waiting asks are held.

    :meth:`run` belongs in the actor system's nursery; while it is not
    running, refs fall back to a cancel scope per ask.
    """

    def __init__(self) -> None:
        self._buckets: dict[int, set[Reply]] = {}
        self._due: list[int] = []
        self._sleep: trio.CancelScope | None = None

    @property
    def running(self) -> bool:
        return self._sleep is not None

    def watch(self, reply: Reply, deadline: float) -> None:
        """Time out ``reply`` at ``deadline`` (trio time) unless it is settled first."""
        slot = math.ceil(deadline / GRAIN_S)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = set()
            heapq.heappush(self._due, slot)
            sleep = self._sleep
            if sleep is not None and slot * GRAIN_S < sleep.deadline:
                sleep.deadline = slot * GRAIN_S
        bucket.add(reply)
        reply.bucket = bucket

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Expire overdue asks until cancelled; then fail those still waiting as stopped."""
        started = False
        try:
            while True:
                with trio.CancelScope(
                    deadline=self._due[0] * GRAIN_S if self._due else math.inf
                ) as sleep:
                    self._sleep = sleep
                    if not started:
                        started = True
                        task_status.started()
                    await trio.sleep_forever()
                now = trio.current_time()
                while self._due and self._due[0] * GRAIN_S <= now:
                    for reply in self._buckets.pop(heapq.heappop(self._due), ()):
                        reply.time_out()
        finally:
            self._sleep = None
            for bucket in self._buckets.values():
                for reply in list(bucket):
                    reply.stop()
            self._buckets.clear()
            self._due.clear()
