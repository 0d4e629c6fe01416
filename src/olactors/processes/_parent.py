"""``[server] processes = N``: a small parent process running N daemon processes.

The parent binds every listener once (``_sockets``) and starts each child as
``olactors run`` with the sockets handed down (``_handover``): the children
accept on the same sockets, so one host's cores share the load without a
balancer in front. Each child is a whole daemon, a replica like any other:
on Redis they share the store as replicas on several hosts do; on sqlite they
share one database file (WAL, and a busy timeout for the writers' turns).

The parent does nothing else. It starts a child that dies again, after a
backoff that doubles from ``first_backoff_s`` to ``max_backoff_s`` (reset
once a child has run ``healthy_after_s``); a child that exits with a usage
error (2: its configuration is wrong) will not do better next time, and
stops them all. The first SIGINT or SIGTERM stops the children one at a
time, the last started first, each finishing its work in order while the
others still serve; the next signal is forwarded to every child still
running, which forces them. If the parent itself dies, each child sees its
lifeline close and stops in order.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import trio

from ._handover import HANDOVER_ENV, Handover

log = logging.getLogger("olactors.processes")

#: A child's exit code that says its configuration is wrong (``olactors run``'s usage error).
EXIT_USAGE = 2


@dataclass
class _Place:
    index: int
    process: trio.Process | None = None
    #: Set when the current child has exited (only the place's keeper waits on it).
    exited: trio.Event = field(default_factory=trio.Event)
    starts: int = 0
    last_code: int | None = None


class ProcessParent:
    """Runs ``count`` children from ``command``, each handed ``sockets``."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        sockets: Mapping[str, socket.socket],
        env: Mapping[str, str],
        *,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 60.0,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.command = list(command)
        self.sockets = dict(sockets)
        self.env = dict(env)
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.healthy_after_s = healthy_after_s
        self._clock = clock
        self.places = [_Place(index) for index in range(count)]
        self.stopping = False
        self._stop = trio.Event()
        self._code = 0
        # Nothing is written to the lifeline: its closing is the message.
        self._lifeline, self._lifeline_end = os.pipe()

    async def run(self, signals: AsyncIterator[int]) -> int:
        """Start every child, keep them running until a stop signal (or a child's usage
        error), stop them in order; the exit code (0, or the first failing child's)."""
        try:
            async with trio.open_nursery() as nursery:
                for place in self.places:
                    nursery.start_soon(self._keep, place)
                nursery.start_soon(self._listen, signals)
                await self._stop.wait()
                await self._stop_in_order()
                nursery.cancel_scope.cancel()
        finally:
            os.close(self._lifeline)
            os.close(self._lifeline_end)
        return self._code

    async def _keep(self, place: _Place) -> None:
        """Start the place's child and start it again each time it dies, until stopping."""
        backoff = self.first_backoff_s
        while not self.stopping:
            began = self._clock()
            code = await self._start_and_wait(place)
            if self.stopping:
                return
            if code == EXIT_USAGE:
                log.critical(
                    "process %d exited with a usage error (its configuration): stopping all",
                    place.index,
                )
                self._code = EXIT_USAGE
                self._stop.set()
                return
            if self._clock() - began >= self.healthy_after_s:
                backoff = self.first_backoff_s
            log.error(
                "process %d (pid %s) exited with %s: starting it again in %.1f s",
                place.index,
                place.process.pid if place.process else "?",
                _describe(code),
                backoff,
            )
            with trio.move_on_after(backoff):
                await self._stop.wait()
            backoff = min(2 * backoff, self.max_backoff_s)

    async def _start_and_wait(self, place: _Place) -> int:
        handover = Handover(
            index=place.index,
            count=len(self.places),
            parent=os.getpid(),
            sockets={name: sock.fileno() for name, sock in self.sockets.items()},
            restarts=place.starts,
            lifeline=self._lifeline,
        )
        place.starts += 1
        place.exited = trio.Event()
        descriptors = [*handover.sockets.values(), self._lifeline]
        place.process = await trio.lowlevel.open_process(
            self.command,
            env={**self.env, HANDOVER_ENV: handover.encode()},
            pass_fds=descriptors,
            # Its own process group: a terminal's Ctrl-C reaches the parent
            # only, which stops the children in order instead of all at once.
            process_group=0,
        )
        log.info("process %d started (pid %d)", place.index, place.process.pid)
        try:
            code = await place.process.wait()
        finally:
            place.exited.set()
        place.last_code = code
        return code

    async def _listen(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not self.stopping:
                log.warning("%s received: stopping the processes in order", name)
                self.stopping = True
                self._stop.set()
                continue
            log.warning("%s received again: forwarding it to every process", name)
            for place in self.places:
                if place.process is not None and place.process.returncode is None:
                    place.process.send_signal(signum)

    async def _stop_in_order(self) -> None:
        """SIGTERM each running child, the last started first, once the one before is gone."""
        self.stopping = True
        for place in reversed(self.places):
            process = place.process
            if process is None or place.exited.is_set():
                continue
            log.info("stopping process %d (pid %d)", place.index, process.pid)
            process.send_signal(signal.SIGTERM)
            await place.exited.wait()
            if place.last_code and not self._code:
                self._code = 1 if place.last_code < 0 else place.last_code
        log.info("every process stopped")


def _describe(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
