"""What ``/readyz`` and ``olactors status`` say: problems that stop the daemon from taking
events, and warnings about events it took but is not delivering.

A *problem* makes the replica not ready (503): a load balancer should send
webhooks elsewhere. The root or a child not running, an actor crash-looping,
a store that cannot write (checked with a write, not a read: a full disk or
a read-only replica answers reads).

A *warning* leaves it ready (200, status ``degraded``): ingress works, but
something behind it needs a person. An open breaker (a provider's or a
route's), a route whose last attempt failed (since when, and its answer), a
route paused or disabled by a 410, dead letters waiting, a backlog that grew
across the last readings.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..delivery import DELIVERY_PATH
from ..resilience import RESILIENCE_PATH
from ..runtime import ActorContext, ActorNotFound, ActorSnapshot, Snapshot, Status, walk
from ..store import QueueCounts, Store, StoreError
from ._printing import iso

#: A replica's readiness write: one key per process, kept a minute.
_PROBE_KEY = f"olactors:readyz:{socket.gethostname()}:{os.getpid()}"
_PROBE_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class Health:
    problems: list[str]
    warnings: list[str]
    queues: dict[str, QueueCounts] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.problems:
            return "not ready"
        return "degraded" if self.warnings else "ready"


class BacklogTrend:
    """Each queue's backlog (items not yet delivered) over the last ``window_s``.

    Readings come with each readiness check or dashboard update, as often as
    those are asked for; the trend keeps one every ``spacing_s`` at most, so
    neither a busy dashboard nor an idle one changes what it says. A backlog
    is *growing* when, over at least ``window_s`` and ``min_readings`` kept
    readings, it never fell and ends higher than it began: events arrive
    faster than the route delivers them.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        window_s: float = 60.0,
        spacing_s: float = 10.0,
        min_readings: int = 3,
    ) -> None:
        self._clock = clock
        self.window_s = window_s
        self.spacing_s = spacing_s
        self.min_readings = min_readings
        self._readings: dict[str, deque[tuple[float, int]]] = {}

    def record(self, queues: dict[str, QueueCounts]) -> list[str]:
        """Read every queue now; the queues whose backlog is growing, described."""
        now = self._clock()
        growing = []
        for name, counts in queues.items():
            backlog = counts.ready + counts.delayed + counts.leased + counts.held
            readings = self._readings.setdefault(name, deque())
            if not readings or now - readings[-1][0] >= self.spacing_s:
                readings.append((now, backlog))
            # Keep one reading older than the window: the one the rise is measured from.
            while len(readings) > 2 and readings[1][0] <= now - self.window_s:
                readings.popleft()
            first_at, first = readings[0]
            values = [value for _, value in readings] + [backlog]
            never_fell = all(b >= a for a, b in itertools.pairwise(values))
            covered = now - first_at >= self.window_s and len(readings) >= self.min_readings
            if covered and never_fell and backlog > first:
                growing.append(
                    f"queue {name}: backlog grew from {first} to {backlog} "
                    f"in {now - first_at:.0f} s (arriving faster than delivered)"
                )
        for gone in set(self._readings) - set(queues):
            del self._readings[gone]
        return growing


async def assess(context: ActorContext, store: Store, trend: BacklogTrend) -> Health:
    """The daemon's health now: one write to the store, one read of every queue."""
    tree = context.snapshot(context.root)
    problems = []
    if tree.status is not Status.RUNNING:
        problems.append(f"root supervisor is {tree.status.value}")
    problems += [_problem(c) for c in _not_running(tree)]
    warnings = _breakers(context) + _routes(context)
    queues: dict[str, QueueCounts] = {}
    try:
        await store.put(_PROBE_KEY, str(context.clock()).encode(), ttl_s=_PROBE_TTL_S)
    except StoreError as exc:
        problems.append(f"store cannot write: {exc}")
    try:
        for name in await store.queues():
            queues[name] = await store.counts(name)
    except StoreError as exc:
        problems.append(f"store cannot read: {exc}")
    for name, counts in sorted(queues.items()):
        if counts.dead:
            warnings.append(f"queue {name}: {counts.dead} dead letter(s) waiting for a replay")
    warnings += trend.record(queues)
    return Health(problems, warnings, queues)


def _breakers(context: ActorContext) -> list[str]:
    try:
        tree = context.snapshot(RESILIENCE_PATH)
    except ActorNotFound:
        return []
    return [
        f"provider {node.path.split('/')[-2]}: breaker {node.state['state']}"
        + (f", retried in {node.state['open_for_s']:.0f} s" if node.state["open_for_s"] else "")
        for node in walk(tree)
        if isinstance(node, ActorSnapshot)
        and node.name == "breaker"
        and node.state.get("state", "closed") != "closed"
    ]


def _routes(context: ActorContext) -> list[str]:
    try:
        tree = context.snapshot(DELIVERY_PATH)
    except ActorNotFound:
        return []
    warnings = []
    for node in walk(tree):
        state: dict[str, Any] = node.state if isinstance(node, ActorSnapshot) else {}
        if "destination" not in state:
            continue  # not a courier
        name = f"route {state['namespace']}/{state['destination']}"
        route = state["state"]
        if route.get("gone"):
            warnings.append(
                f"{name}: disabled since {iso(route.get('since'))} by {route.get('reason')}"
            )
        elif route.get("paused"):
            why = f" ({route['reason']})" if route.get("reason") else ""
            warnings.append(f"{name}: paused since {iso(route.get('since'))}{why}")
        answer = state.get("last_answer")
        if state.get("failing_since") is not None and answer is not None:
            said = answer["status"] if answer["status"] is not None else answer["outcome"]
            warnings.append(
                f"{name}: failing since {iso(state['failing_since'])} (last answer: {said})"
            )
        if state["breaker"] != "closed":
            until = state.get("breaker_open_until")
            when = f" until {iso(until)}" if until else ""
            last = f"; last error: {state['last_error']}" if state.get("last_error") else ""
            warnings.append(f"{name}: breaker {state['breaker']}{when}{last}")
    return warnings


def _problem(child: Snapshot) -> str:
    if child.crash_looping:
        return f"{child.path} is crash-looping ({child.restarts_since_stable} restarts in a row)"
    return f"{child.path} is {child.status.value}"


def _not_running(tree: Snapshot) -> list[Snapshot]:
    """Children not running, ignoring those stopped on purpose (a transient that ended),
    and children running between the crashes of a crash loop."""
    return [
        node
        for node in walk(tree)
        if node is not tree
        and (node.status in (Status.RESTARTING, Status.STARTING) or node.crash_looping)
    ]
