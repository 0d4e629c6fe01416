"""The store actor: many callers, one backend, one thread hop per batch."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import trio

from ..runtime import Actor, Reply
from ._backend import Backend
from ._commands import Command
from ._errors import StoreError, StoreUnavailable

log = logging.getLogger("olactors.store")


class StoreActor(Actor[Command]):
    """Runs store commands against one backend, batched.

    Each command is an ask whose answer is deferred: the actor gathers what
    its mailbox holds, runs it as one batch in a worker thread (one sqlite
    transaction and fsync, or one Redis pipeline), and answers every caller
    once the batch is durable. While a batch runs, new commands queue in the
    mailbox and form the next batch: that is the group commit. A batch is cut
    at ``max_batch`` commands so a steady stream still commits.

    When the backend fails, every caller of that batch gets
    :class:`StoreUnavailable`, and for a back-off that doubles up to
    ``backoff_max_s`` new commands fail at once, without waiting on a dead
    connection; the first batch after the back-off is the probe.
    """

    reply_errors: ClassVar[tuple[type[Exception], ...]] = (StoreError,)

    def __init__(
        self,
        backend: Backend,
        *,
        max_batch: int = 512,
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 2.0,
    ) -> None:
        self.backend = backend
        self.max_batch = max_batch
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.pending: list[tuple[Command, Reply]] = []
        self.batches = 0
        self.commands = 0
        self.largest_batch = 0
        self.failures = 0
        self.down_since: float | None = None
        self.last_failure: str | None = None
        self._retry_at = 0.0
        self._delay = 0.0

    async def started(self) -> None:
        await trio.to_thread.run_sync(self.backend.open)

    async def receive(self, message: Command) -> None:
        if self.down_since is not None and trio.current_time() < self._retry_at:
            raise StoreUnavailable(f"{self.backend.name} store unavailable: {self.last_failure}")
        self.pending.append((message, self.context.defer()))
        if len(self.pending) >= self.max_batch:
            await self._flush()

    async def drained(self) -> None:
        if self.pending:
            await self._flush()

    async def stopping(self) -> None:
        await trio.to_thread.run_sync(self.backend.close)

    async def _flush(self) -> None:
        # An asker that gave up (timed out, cancelled) was told its command was
        # not carried out; it must not be carried out now.
        batch = [(command, reply) for command, reply in self.pending if not reply.abandoned]
        self.pending = []
        if not batch:
            return
        commands = [command for command, _ in batch]
        try:
            outcomes = await trio.to_thread.run_sync(self.backend.execute, commands)
        except StoreUnavailable as exc:
            self._went_down(exc)
            for _, reply in batch:
                reply.reject(exc)
            return
        except Exception as exc:
            # A bug in a backend: the batch was rolled back (sqlite) or its
            # replies are unreadable (Redis). Answer, log, and carry on; a
            # restart would not make the same batch succeed.
            log.exception("%s store failed on a batch of %d", self.backend.name, len(batch))
            failure = StoreError(f"{self.backend.name} store failed: {type(exc).__name__}: {exc}")
            for _, reply in batch:
                reply.reject(failure)
            return
        self._came_up()
        self.batches += 1
        self.commands += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        for (_, reply), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                reply.reject(outcome)
            else:
                reply.resolve(outcome)

    def _went_down(self, error: StoreUnavailable) -> None:
        now = trio.current_time()
        self.failures += 1
        self.last_failure = str(error)
        if self.down_since is None:
            self.down_since = now
            log.error("%s store unavailable: %s", self.backend.name, error)
        self._delay = min(self.backoff_max_s, max(self.backoff_initial_s, self._delay * 2))
        self._retry_at = now + self._delay

    def _came_up(self) -> None:
        if self.down_since is not None:
            log.warning(
                "%s store available again after %.1f s",
                self.backend.name,
                trio.current_time() - self.down_since,
            )
        self.down_since = None
        self._delay = 0.0

    def inspect(self) -> dict[str, Any]:
        return {
            **self.backend.describe(),
            "available": self.down_since is None,
            "last_failure": self.last_failure,
            "batches": self.batches,
            "commands": self.commands,
            "largest_batch": self.largest_batch,
            "mean_batch": round(self.commands / self.batches, 2) if self.batches else 0.0,
            "failures": self.failures,
            "pending": len(self.pending),
        }
