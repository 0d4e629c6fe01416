"""One-shot reply slots: how an ``ask`` gets exactly its own answer."""

from __future__ import annotations

from typing import Any

import outcome
import trio

from ._errors import ActorStopped, AskTimeout


class Reply:
    """A one-shot slot for the answer to one ask.

    Each ask makes its own slot, so an answer can only ever reach the caller
    that asked. The first ``resolve`` or ``reject`` wins; later ones are
    ignored. When the asker stops waiting (its timeout fired or it was
    cancelled) the slot is *abandoned*: an answer that comes after that is
    dropped, never delivered to anybody.

    An actor receives one of these from ``ActorContext.defer()`` when it wants
    to answer later (after a group commit, or when a refresh in flight ends).
    """

    __slots__ = ("_abandoned", "_asked", "_result", "_waiter", "bucket")

    def __init__(self) -> None:
        self._result: outcome.Outcome[Any] | None = None
        self._waiter: trio.lowlevel.Task | None = None
        self._abandoned = False
        #: Who was asked and for how long, for the error if the ask times out.
        self._asked: tuple[str, float] | None = None
        #: The ask timer's bucket holding this reply while it waits, if any.
        self.bucket: set[Reply] | None = None

    def expect_by(self, path: str, timeout: float) -> None:
        """Record what :meth:`time_out` and :meth:`stop` report."""
        self._asked = (path, timeout)

    def time_out(self) -> None:
        """The ask's deadline passed: the asker gets AskTimeout; a later answer is dropped."""
        assert self._asked is not None
        self._give_up(AskTimeout(*self._asked))

    def stop(self) -> None:
        """The actor system stopped with this ask unanswered: the asker gets ActorStopped."""
        assert self._asked is not None
        self._give_up(ActorStopped(self._asked[0]))

    def _give_up(self, error: BaseException) -> None:
        self.bucket = None
        waiter = self._waiter
        if self._result is None and not self._abandoned:
            self._abandoned = True
            if waiter is not None:
                self._waiter = None
                trio.lowlevel.reschedule(waiter, outcome.Error(error))

    @property
    def pending(self) -> bool:
        """True while nobody has answered and the asker still waits."""
        return self._result is None and not self._abandoned

    @property
    def abandoned(self) -> bool:
        """True once the asker stopped waiting; answers are then dropped."""
        return self._abandoned

    def resolve(self, value: object) -> bool:
        """Answer with ``value``. Returns False if the answer was dropped. Never blocks."""
        return self._settle(outcome.Value(value))

    def reject(self, error: BaseException) -> bool:
        """Answer with an error the asker will raise. Returns False if dropped."""
        return self._settle(outcome.Error(error))

    def _settle(self, result: outcome.Outcome[Any]) -> bool:
        if self._result is not None or self._abandoned:
            return False
        self._result = result
        self._leave_bucket()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            trio.lowlevel.reschedule(waiter, result)
        return True

    async def wait(self) -> Any:
        """Block until answered; return the value or raise the error.

        Cancellation abandons the slot (so a late answer is dropped) and
        propagates. Only one task may wait on a slot.
        """
        result = self._result
        if result is not None:
            # Answered before we got here: unwrap it ourselves.
            return result.unwrap()
        self._waiter = trio.lowlevel.current_task()

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            self._waiter = None
            self._abandoned = True
            self._leave_bucket()
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)

    def _leave_bucket(self) -> None:
        bucket = self.bucket
        if bucket is not None:
            self.bucket = None
            bucket.discard(self)
