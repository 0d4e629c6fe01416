"""``/root/sync/<name>``: one actor per sync, running it on its schedule, on demand, and
for the records a webhook names, one run at a time.

A run's fetch and apply go on in a task of the actor, so it keeps answering
while a long run goes. Asked to run while one is going, it answers with the
running one's id. A refresh asked for during a run waits for it, and the
refreshes asked meanwhile go together as one targeted run. A fetch a dead
process left halfway is taken up again when the actor starts.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
import trio

from ..runtime import Actor, ActorContext, Reply
from ._access import SyncAccess
from ._runner import begin, execute, new_run_id, refresh
from ._source import Source
from ._sql import DATABASE_ERRORS, Database
from ._tables import Busy, Policy, RunView

log = logging.getLogger("olactors.sync")


class StartRun(msgspec.Struct, frozen=True, tag=True):
    full: bool = False


class Started(msgspec.Struct, frozen=True):
    id: str
    #: A run was already going: this is its id, no second one was started.
    already_running: bool


class Refresh(msgspec.Struct, frozen=True, tag=True):
    """Fetch and apply these records now; answered with the run once it is applied."""

    ids: list[str]


class SyncFailed(Exception):
    """A run the asker waited for did not complete."""


SyncMessage = StartRun | Refresh


#: A database that does not answer at start is tried again after this long.
RETRY_S = 5.0


class SyncActor(Actor[SyncMessage]):
    # Expected refusals, sent back to the asker: a crash would not make them pass.
    reply_errors: ClassVar[tuple[type[Exception], ...]] = (SyncFailed, Busy, *DATABASE_ERRORS)

    def __init__(
        self,
        name: str,
        every_s: float,
        policy: Policy,
        open_db: Callable[[], Database],
        source: Callable[[ActorContext], Source],
    ) -> None:
        self.name = name
        self.every_s = every_s
        self.policy = policy
        self._open_db = open_db
        self._make_source = source
        self.current: str | None = None
        self.waiting: list[tuple[list[str], Reply]] = []
        self.last: RunView | None = None
        self.runs = self.failed = 0

    async def started(self) -> None:
        #: This incarnation's name in the sync's lease (other replicas have theirs).
        self.owner = f"{self.context.path}#{secrets.token_hex(6)}"
        self.access = SyncAccess(self._open_db, self.name)
        self.context.close_at_end(self.access.aclose)
        self.source = self._make_source(self.context)
        self.context.close_at_end(self.source.aclose)
        # The database is reached in the background: one that is down makes this
        # sync wait, not the daemon fail to start.
        self.context.nursery.start_soon(self._every)

    async def receive(self, message: SyncMessage) -> Any:
        if isinstance(message, StartRun):
            if self.current is not None:
                return Started(self.current, already_running=True)
            try:
                return Started(await self._start(full=message.full), already_running=False)
            except Busy as busy:  # another replica's run
                return Started(busy.run or "", already_running=True)
        reply = self.context.defer()
        self.waiting.append((list(message.ids), reply))
        if self.current is None:
            self.current = new_run_id()
            self.context.nursery.start_soon(self._refresh_waiting, self.current)
        return None

    async def _every(self) -> None:
        while True:
            try:
                tables = await self.access.tables()
                await self.access.call(tables.abandon_running, self.context.clock())
                state = await self.access.call(tables.state)
                break
            except DATABASE_ERRORS as exc:
                log.warning("sync %s: its database does not answer: %s", self.name, exc)
                await trio.sleep(RETRY_S)
        if state.fetching:  # a fetch a dead process left halfway goes on now
            await self._start_logged()
        while True:
            await trio.sleep(self.every_s)
            if self.current is None:
                await self._start_logged()

    async def _start_logged(self) -> None:
        try:
            await self._start(full=False)
        except Busy:
            pass  # another replica runs it now
        except Exception as exc:  # the next tick tries again
            log.warning("sync %s: a run could not start: %s", self.name, exc)

    async def _start(self, *, full: bool) -> str:
        run = self.current = new_run_id()
        try:
            plan = await begin(
                self.access,
                self.source,
                self.policy,
                run,
                full=full,
                now=self.context.clock(),
                owner=self.owner,
            )
        except BaseException:
            self.current = None
            raise
        self.context.nursery.start_soon(self._run, run, plan)
        return run

    async def _run(self, run: str, plan: Any) -> None:
        try:
            self.last = await execute(
                self.access, self.source, self.policy, run, plan, self.context.clock, self.owner
            )
            self.runs += 1
        except Exception:
            self.failed += 1  # recorded in the run, logged by the runner
        finally:
            self.current = None
            self._next_refresh()

    def _next_refresh(self) -> None:
        if self.waiting and self.current is None:
            self.current = new_run_id()
            self.context.nursery.start_soon(self._refresh_waiting, self.current)

    async def _refresh_waiting(self, run: str) -> None:
        batch, self.waiting = self.waiting, []
        ids = sorted({rid for asked, _ in batch for rid in asked})
        try:
            if self.source.targeted:
                view = await refresh(
                    self.access, self.source, self.policy, run, ids, self.context.clock
                )
            else:  # it cannot fetch one record: a run fetches what changed
                plan = await begin(
                    self.access,
                    self.source,
                    self.policy,
                    run,
                    full=False,
                    now=self.context.clock(),
                    owner=self.owner,
                )
                view = await execute(
                    self.access, self.source, self.policy, run, plan, self.context.clock, self.owner
                )
        except Exception as exc:
            self.failed += 1
            for _, reply in batch:
                reply.reject(SyncFailed(f"sync {self.name}: {type(exc).__name__}: {exc}"))
        else:
            self.runs += 1
            self.last = view
            for _, reply in batch:
                reply.resolve(view)
        finally:
            self.current = None
            self._next_refresh()

    def inspect(self) -> dict[str, Any]:
        last = self.last
        return {
            "sync": self.name,
            "every_s": self.every_s,
            "running": self.current,
            "waiting_refreshes": len(self.waiting),
            "runs": self.runs,
            "failed": self.failed,
            "last_run": None if last is None else msgspec.to_builtins(last),
        }
