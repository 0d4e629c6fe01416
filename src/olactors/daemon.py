"""The daemon: the supervision tree built from the config, run until a signal."""

from __future__ import annotations

import logging
import os
import resource
import signal
from collections.abc import AsyncIterator, Callable

import trio

from .config import Config, ConfigError
from .http import MAX_REFUSING
from .processes import Handover, watch_lifeline
from .runtime import ActorSystem, ChildStartFailed, SystemHalted, TopLevelFailure
from .tree import build_tree

log = logging.getLogger("olactors.daemon")

#: Exit codes of ``olactors run``.
EXIT_OK = 0
EXIT_FAILED = 1  #: the tree could not start, its root gave up, or shutdown overran
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def serve(
    system: ActorSystem,
    config: Config,
    signals: AsyncIterator[int],
    on_started: Callable[[], None] | None = None,
) -> int:
    """Run ``system`` until a stop signal arrives on ``signals``; return the exit code.

    The first signal starts an orderly shutdown (reverse start order, each
    actor draining its mailbox); a second one, or the shutdown overrunning
    ``daemon.shutdown_timeout_s``, forces it. A forced stop exits with 128 +
    the signal's number, or 1 after an overrun.
    """
    code = EXIT_OK
    async with trio.open_nursery() as nursery:
        forced_by: list[int] = []
        nursery.start_soon(_watch, system, config.daemon.shutdown_timeout_s, signals, forced_by)
        try:
            await system.run(task_status=_Announce(on_started))
        except ChildStartFailed as exc:
            log.critical("olactors could not start: %s", exc)
            code = EXIT_FAILED
        except TopLevelFailure as exc:
            log.critical("olactors stopped: %s", exc)
            code = EXIT_FAILED
        except SystemHalted as exc:
            log.critical("olactors stopped: %s", exc)
            code = exc.exit_code
        else:
            if system.forced:
                code = 128 + forced_by[0] if forced_by else EXIT_FAILED
                log.warning("olactors stopped by force (exit %d)", code)
            else:
                log.info("olactors stopped cleanly")
        nursery.cancel_scope.cancel()
    return code


async def _watch(
    system: ActorSystem, grace_s: float, signals: AsyncIterator[int], forced_by: list[int]
) -> None:
    """Force a shutdown that overruns ``grace_s``, whoever began it (a signal or a halt)."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_listen, system, signals, forced_by)
        await system.stop_requested.wait()
        await trio.sleep(grace_s)
        log.error("orderly shutdown took longer than %g s: forcing it", grace_s)
        system.force_stop()
        nursery.cancel_scope.cancel()


async def _listen(system: ActorSystem, signals: AsyncIterator[int], forced_by: list[int]) -> None:
    """The first signal stops the daemon in order; the next one forces it."""
    stopping = False
    async for signum in signals:
        name = signal.Signals(signum).name
        if not stopping:
            stopping = True
            log.warning("%s received: stopping in order (send it again to force)", name)
            system.shutdown()
            continue
        log.warning("%s received again: forcing shutdown", name)
        forced_by.append(signum)
        system.force_stop()
        return


#: Descriptors kept for what is not a client connection: the store, the admin's
#: own, outgoing provider and app calls, logs.
RESERVED_DESCRIPTORS = 256


def ensure_descriptors(config: Config) -> int:
    """Make room for every connection the listeners may hold; ConfigError if there is none.

    Raises the soft RLIMIT_NOFILE up to the hard one when needed. Without
    this, connections up to max_connections would exhaust the process's
    descriptors and every listener would stop accepting. Returns the limit.
    """
    needed = (
        config.server.max_connections
        + config.admin.max_connections
        + 2 * MAX_REFUSING  # each listener's refusals in progress
        + RESERVED_DESCRIPTORS
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard == resource.RLIM_INFINITY or hard >= needed:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
            return needed
        raise ConfigError(
            f"server.max_connections + admin.max_connections need {needed} file descriptors "
            f"with {RESERVED_DESCRIPTORS} kept aside, and this process may open {hard}: "
            "lower max_connections or raise the limit (ulimit -n, LimitNOFILE=)"
        )
    return soft


async def run_daemon(config: Config) -> int:
    """Build the tree from ``config`` and serve it on the process's real signals (and,
    for a child of ``[server] processes``, until its parent is gone)."""
    ensure_descriptors(config)
    system = ActorSystem(build_tree(config, os.environ))
    handover = Handover.from_env(os.environ)
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            on_started = None
            if handover is not None:
                up = trio.Event()
                nursery.start_soon(_as_a_child, system, handover, up)

                def on_started() -> None:
                    up.set()
                    handover.say_ready()

            code = await serve(system, config, signals, on_started)
            nursery.cancel_scope.cancel()
        return code


async def _as_a_child(system: ActorSystem, handover: Handover, up: trio.Event) -> None:
    """Stop when the parent is gone; once a running daemon is stopping, let go of the
    inherited sockets (the listeners serve duplicates): a socket nobody will accept on
    again is closed at once, not when the last drain ends. A daemon stopped while it
    starts keeps them: a listener starting meanwhile still needs its descriptor."""
    async with trio.open_nursery() as nursery:
        if handover.lifeline is not None:
            nursery.start_soon(watch_lifeline, handover.lifeline, system.shutdown)
        await system.stop_requested.wait()
        if up.is_set():
            handover.close_sockets()
        nursery.cancel_scope.cancel()


class _Announce:
    """Says so once the whole tree is up (what operators, tests and a parent wait for)."""

    def __init__(self, on_started: Callable[[], None] | None) -> None:
        self.on_started = on_started

    def started(self, value: bool | None = None) -> None:
        log.info("olactors running (pid %d); SIGINT or SIGTERM stops it", os.getpid())
        if self.on_started is not None:
            self.on_started()
