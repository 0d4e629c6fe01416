"""``[server] processes = N``: a small parent process running N daemon processes.

The parent binds every listener once (``_sockets``) and starts each child as
``olactors run`` with the sockets handed down (``_handover``): the children
accept on the same sockets, so one host's cores share the load without a
balancer in front. Each child is a whole daemon, a replica like any other:
on Redis they share the store as replicas on several hosts do; on sqlite they
share one database file (WAL, and a busy timeout for the writers' turns).

The parent does nothing else. Each place has a keeper task that owns its
child: it starts it, stops it when asked, and starts it again when it dies,
after a backoff that doubles from ``first_backoff_s`` to ``max_backoff_s``
(back to the first for a child that was up and ran ``healthy_after_s``: a
process killed now and then, by the OOM killer say, comes back at once). A
child says it is up by writing one byte on its *ready* pipe; one that dies before that
``max_failed_starts`` times in a row at one place will not do better (its
store unreachable, its files unreadable, its configuration file edited
into an invalid one since the parent checked it): the parent stops them all
and exits 1, as a single daemon would.

The first SIGINT or SIGTERM stops the children one at a time, the last
started first, each finishing its work in order while the others still
serve; the next signal is forwarded to every child still running, which
forces them. If the parent itself fails, its ``finally`` stops what still
runs; if it dies (SIGKILL), each child sees its lifeline close and stops in
order.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import trio

from ._handover import HANDOVER_ENV, Handover

log = logging.getLogger("olactors.processes")

#: The parent's exit when a place could not be kept running, or a child failed to stop.
EXIT_FAILED = 1


@dataclass
class _Place:
    index: int
    process: trio.Process | None = None
    #: Set to have the keeper stop its child and end; set by it when it has.
    stop: trio.Event = field(default_factory=trio.Event)
    done: trio.Event = field(default_factory=trio.Event)
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
        healthy_after_s: float = 10.0,
        max_failed_starts: int = 5,
        stop_child_s: float = 60.0,
    ) -> None:
        self.command = list(command)
        self.sockets = dict(sockets)
        self.env = dict(env)
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.healthy_after_s = healthy_after_s
        self.max_failed_starts = max_failed_starts
        #: How long a parent whose run failed waits for the children it stops.
        self.stop_child_s = stop_child_s
        self.places = [_Place(index) for index in range(count)]
        self.stopping = False
        self._stop = trio.Event()
        self._code = 0

    async def run(self, signals: AsyncIterator[int]) -> int:
        """Start every child, keep them running until a stop signal (or a place whose
        child cannot come up), stop them in order; the exit code (0, or 1: a child never
        came up, or one stopped with an error)."""
        # Nothing is written to the lifeline: its closing is the message.
        self._lifeline, lifeline_end = os.pipe()
        try:
            async with trio.open_nursery() as nursery:
                for place in self.places:
                    nursery.start_soon(self._keep, place)
                nursery.start_soon(self._listen, signals)
                await self._stop.wait()
                for place in reversed(self.places):
                    place.stop.set()
                    await place.done.wait()
                    # A child ended by our SIGTERM before it could take it in order
                    # (still starting) stopped as asked.
                    if place.last_code not in (None, 0, -signal.SIGTERM) and not self._code:
                        self._code = EXIT_FAILED
                log.info("every process stopped")
                nursery.cancel_scope.cancel()
        finally:
            # Whatever ended the run (a bug, a failure to start a process),
            # no child outlives the parent's say.
            with trio.CancelScope(shield=True), trio.move_on_after(self.stop_child_s):
                for place in self.places:
                    process = place.process
                    if process is not None and process.returncode is None:
                        process.send_signal(signal.SIGTERM)
                        await process.wait()
            os.close(self._lifeline)
            os.close(lifeline_end)
        return self._code

    def _request_stop(self, code: int = 0) -> None:
        self.stopping = True
        if code and not self._code:
            self._code = code
        self._stop.set()

    async def _keep(self, place: _Place) -> None:
        """Start the place's child, start it again each time it dies, stop it when asked."""
        backoff, failed_starts = self.first_backoff_s, 0
        try:
            while not place.stop.is_set():
                began = trio.current_time()
                code, ready = await self._run_child(place)
                if place.stop.is_set():
                    return
                failed_starts = 0 if ready else failed_starts + 1
                if failed_starts >= self.max_failed_starts:
                    log.critical(
                        "process %d did not come up %d times in a row: stopping all",
                        place.index,
                        failed_starts,
                    )
                    self._request_stop(EXIT_FAILED)
                    return
                if ready and trio.current_time() - began >= self.healthy_after_s:
                    backoff = self.first_backoff_s
                log.error(
                    "process %d exited with %s: starting it again in %.1f s",
                    place.index,
                    _describe(code),
                    backoff,
                )
                with trio.move_on_after(backoff):
                    await place.stop.wait()
                if place.stop.is_set():
                    place.last_code = None  # its end was told above; this stop is clean
                backoff = min(2 * backoff, self.max_backoff_s)
        finally:
            place.done.set()

    async def _run_child(self, place: _Place) -> tuple[int | None, bool]:
        """Start the place's child and wait for its end, stopping it (SIGTERM) if the place
        is asked to stop meanwhile; its exit code (None: it could not be started) and
        whether it said it was up."""
        ready_read, ready_write = os.pipe()
        handover = Handover(
            index=place.index,
            count=len(self.places),
            parent=os.getpid(),
            sockets={name: sock.fileno() for name, sock in self.sockets.items()},
            restarts=place.starts,
            lifeline=self._lifeline,
            ready=ready_write,
        )
        place.starts += 1
        try:
            process = await trio.lowlevel.open_process(
                self.command,
                env={**self.env, HANDOVER_ENV: handover.encode()},
                pass_fds=[*handover.sockets.values(), self._lifeline, ready_write],
                # Its own process group: a terminal's Ctrl-C reaches the parent
                # only, which stops the children in order instead of all at once.
                process_group=0,
            )
        except OSError as exc:
            log.error("process %d could not be started: %s", place.index, exc)  # noqa: TRY400 -- the reason is enough
            os.close(ready_read)
            return None, False
        finally:
            os.close(ready_write)  # the child's copy is the only one left
        place.process = process
        log.info("process %d started (pid %d)", place.index, process.pid)
        ready = False

        async def stop_when_asked() -> None:
            await place.stop.wait()
            log.info("stopping process %d (pid %d)", place.index, process.pid)
            process.send_signal(signal.SIGTERM)

        async def watch_ready() -> None:
            nonlocal ready
            await trio.lowlevel.wait_readable(ready_read)
            ready = os.read(ready_read, 1) != b""

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop_when_asked)
                nursery.start_soon(watch_ready)
                code = await process.wait()
                nursery.cancel_scope.cancel()
        finally:
            os.close(ready_read)
        place.last_code = code
        return code, ready

    async def _listen(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            name = _name(signum)
            if not self.stopping:
                log.warning("%s received: stopping the processes in order", name)
                self._request_stop()
                continue
            log.warning("%s received again: forwarding it to every process", name)
            for place in self.places:
                if place.process is not None and place.process.returncode is None:
                    place.process.send_signal(signum)


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _describe(code: int | None) -> str:
    if code is None:
        return "no process"
    if code < 0:
        return _name(-code)
    return f"code {code}"
