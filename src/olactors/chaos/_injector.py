"""The crash injector: the actor at ``/root/chaos`` that crashes others, at random and on demand."""

from __future__ import annotations

import logging
import random
from collections import Counter, deque
from typing import Any

import msgspec
import trio

from ..metrics import CHAOS_CRASHES
from ..runtime import Actor, ActorError, ActorNotFound, ActorSnapshot, Status, walk
from ._targets import Targets

log = logging.getLogger("olactors.chaos")

#: Where the injector sits in the daemon's tree (only with ``[chaos] enabled``).
CHAOS_PATH = "/root/chaos"


class CrashNow(msgspec.Struct, frozen=True):
    """Crash the actor at ``path`` now (``POST /chaos/crash``); the answer is the Injection."""

    path: str


class Injection(msgspec.Struct, frozen=True):
    """One crash injected: where, when (unix time), and what asked for it."""

    path: str
    at: float
    #: "random" (the injector's own timer) or "request" (``CrashNow``).
    trigger: str
    #: The target pattern that chose the actor ("" for a request).
    pattern: str = ""


class CrashRefused(ActorError):
    """The injector will not crash that actor: itself, or one not running just now."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"not crashing {path}: {why}")
        self.path = path


class Injections:
    """What the injector did, kept across its own restarts (shown by ``inspect()``)."""

    def __init__(self, keep: int = 20) -> None:
        self.total = 0
        self.by_trigger: Counter[str] = Counter()
        self.recent: deque[Injection] = deque(maxlen=keep)

    def add(self, injection: Injection) -> None:
        self.total += 1
        self.by_trigger[injection.trigger] += 1
        self.recent.append(injection)


class CrashInjector(Actor[CrashNow]):
    """Crashes a running actor matching ``targets`` every ``every_s`` seconds on average.

    The waits are exponential (a Poisson process) and, like the choice of
    target, drawn from ``chooser``: seeded, a run repeats itself. Time is
    trio's, so a test's mock clock drives it. Each crash goes through the
    runtime's ``inject_crash``: the target's supervisor handles it as any
    crash (counted toward intensity, restarted by its strategy, logged, in
    its snapshot). Never a supervisor, never the root, never the injector
    itself; the store only when a pattern names it (see :class:`Targets`).
    ``every_s`` 0: no crash at random, only on request (:class:`CrashNow`).
    """

    reply_errors = (ActorNotFound, CrashRefused)

    def __init__(
        self, every_s: float, targets: Targets, chooser: random.Random, injections: Injections
    ) -> None:
        self.every_s = every_s
        self.targets = targets
        self.chooser = chooser
        self.injections = injections
        self._idle = False

    async def started(self) -> None:
        if self.every_s > 0:
            self.context.nursery.start_soon(self._crash_at_random)

    async def receive(self, message: CrashNow) -> Injection:
        """Crash ``message.path`` now. :class:`ActorNotFound` for an unknown path or a
        supervisor's; :class:`CrashRefused` for the injector itself or an actor not running."""
        path = message.path.rstrip("/")
        if path == self.context.path:
            # The request in hand would count as crashed, be handed to the next
            # incarnation, and crash it again, until dropped as poison.
            raise CrashRefused(path, "it is the crash injector itself")
        return self._inject(path, "request", "")

    async def _crash_at_random(self) -> None:
        while True:
            await trio.sleep(self.chooser.expovariate(1.0 / self.every_s))
            self.crash_one()

    def crash_one(self) -> Injection | None:
        """Crash one running actor that ``targets`` match, chosen at random; None if none does."""
        candidates = self.candidates()
        if not candidates:
            if not self._idle:  # once per dry spell, not at every tick
                log.info(
                    "chaos: no running actor matches %s; nothing to crash",
                    self.targets.patterns,
                    extra={"actor": self.context.path},
                )
            self._idle = True
            return None
        self._idle = False
        path, pattern = self.chooser.choice(candidates)
        return self._inject(path, "random", pattern)

    def candidates(self) -> list[tuple[str, str]]:
        """Every running actor a random crash may hit, with the pattern that matched, by path."""
        found = []
        for node in walk(self.context.snapshot(self.context.root)):
            if not isinstance(node, ActorSnapshot) or node.status != Status.RUNNING:
                continue
            if node.path == self.context.path:
                continue
            pattern = self.targets.match(node.path)
            if pattern is not None:
                found.append((node.path, pattern))
        return sorted(found)

    def _inject(self, path: str, trigger: str, pattern: str) -> Injection:
        if not self.context.inject_crash(path, f"chaos ({trigger})"):
            raise CrashRefused(path, "it is not running (starting, restarting or stopped)")
        injection = Injection(path, self.context.clock(), trigger, pattern)
        self.injections.add(injection)
        CHAOS_CRASHES.labels(trigger=trigger, pattern=pattern).inc()
        log.warning(
            "chaos: crash injected into %s (%s%s)",
            path,
            trigger,
            f", target {pattern}" if pattern else "",
            extra={"actor": self.context.path},
        )
        return injection

    def inspect(self) -> dict[str, Any]:
        return {
            "crash_every_s": self.every_s,
            "targets": self.targets.patterns,
            "injected": self.injections.total,
            "by_trigger": dict(self.injections.by_trigger),
            "recent": msgspec.to_builtins(list(self.injections.recent)),
        }
