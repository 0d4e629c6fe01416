"""How many bytes of request bodies the public edge holds at once, across all requests."""

from __future__ import annotations


class BodyBudget:
    """A count of body bytes in flight, refused past ``max_bytes``.

    Without it every slow or stalled upload keeps its bytes until its
    deadline: a few hundred of them fill the memory. With it, the edge
    answers 503 (try again) instead. Taking and giving back never block:
    both happen between checkpoints of one trio thread, so they need no lock.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("a body budget holds at least one byte")
        self.max_bytes = max_bytes
        self.used = 0

    def take(self, size: int) -> bool:
        """Hold ``size`` more bytes if the budget allows; False (nothing taken) if not."""
        if self.used + size > self.max_bytes:
            return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        self.used -= size

    def hold(self) -> Hold:
        """A holding for one body, grown as it arrives and released when done."""
        return Hold(self)


class Hold:
    """The part of a :class:`BodyBudget` one request body holds."""

    __slots__ = ("_budget", "size")

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.size = 0

    def grow_to(self, size: int) -> bool:
        """Hold ``size`` bytes in all (no-op if already held); False if the budget is spent."""
        if size <= self.size:
            return True
        if not self._budget.take(size - self.size):
            return False
        self.size = size
        return True

    def release(self) -> None:
        self._budget.give_back(self.size)
        self.size = 0
