"""Test actors and helpers for the runtime specifications.

The actors here are ordinary users of the runtime: they write what happens to
them into a shared :class:`Journal`, which the tests read. Nothing of the
runtime itself is faked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from olactors.runtime import (
    Actor,
    ActorSpec,
    ActorSystem,
    Backoff,
    DroppedMessages,
    Restart,
    SupervisorSpec,
)


class Work(msgspec.Struct, frozen=True):
    n: int = 0


class Boom(msgspec.Struct, frozen=True):
    tag: str = "boom"


class Sleep(msgspec.Struct, frozen=True):
    seconds: float


class Exit(msgspec.Struct, frozen=True):
    pass


class Journal:
    """What happened to the test actors, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.times: list[float] = []
        self.changed = trio.Event()

    def add(self, what: str, who: str, detail: Any = None) -> None:
        self.events.append((what, who, detail))
        self.times.append(trio.current_time())
        self.changed.set()
        self.changed = trio.Event()

    def of(self, what: str, who: str | None = None) -> list[tuple[str, str, Any]]:
        return [e for e in self.events if e[0] == what and (who is None or e[1] == who)]

    def count(self, what: str, who: str | None = None) -> int:
        return len(self.of(what, who))

    def times_of(self, what: str, who: str | None = None) -> list[float]:
        return [
            t
            for t, e in zip(self.times, self.events, strict=True)
            if e[0] == what and (who is None or e[1] == who)
        ]

    def order(self, what: str) -> list[str]:
        return [who for kind, who, _ in self.events if kind == what]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self.changed.wait()


class Recorder(Actor[Any]):
    """Records its life in the journal and does what each message says."""

    def __init__(self, name: str, journal: Journal) -> None:
        self.name = name
        self.journal = journal

    async def started(self) -> None:
        self.journal.add("start", self.name)

    async def stopping(self) -> None:
        self.journal.add("stop", self.name)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Work):
            self.journal.add("handled", self.name, message.n)
            return message.n
        if isinstance(message, Boom):
            self.journal.add("crash", self.name, message.tag)
            raise ValueError(message.tag)  # noqa: TRY004 -- the crash under test
        if isinstance(message, Sleep):
            self.journal.add("sleeping", self.name, message.seconds)
            await trio.sleep(message.seconds)
            self.journal.add("slept", self.name, message.seconds)
            return None
        if isinstance(message, Exit):
            self.context.stop()
            return None
        raise TypeError(f"unexpected {message!r}")

    def inspect(self) -> dict[str, Any]:
        return {"name": self.name}


def recorder(
    name: str, journal: Journal, restart: Restart = Restart.PERMANENT, **options: Any
) -> ActorSpec:
    return ActorSpec(name, lambda: Recorder(name, journal), restart=restart, **options)


def tree(*children: ActorSpec | SupervisorSpec, **options: Any) -> SupervisorSpec:
    """A root supervisor generous enough not to escalate unless a test wants it."""
    options.setdefault("max_restarts", 100)
    options.setdefault("backoff", _NO_BACKOFF)
    return SupervisorSpec("root", children=children, **options)


_NO_BACKOFF = Backoff(initial_s=0.0, max_s=0.0, max_tries=None)


@asynccontextmanager
async def running(
    spec: SupervisorSpec, dropped: DroppedMessages | None = None
) -> AsyncIterator[ActorSystem]:
    """Run a system for the body of the block, then shut it down in order."""
    system = ActorSystem(spec, dropped=dropped)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        try:
            yield system
        finally:
            system.shutdown()
