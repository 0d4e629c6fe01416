"""Scale-out: accepted and delivered events/s with 1 and 2 daemon processes, in one run.

Whole daemons (``olactors run``, a Stripe source, one route to a no-op handler)
under closed-loop load from a third process (``--connections`` keep-alive
connections of distinct, validly signed events, for ``--seconds``), spread over
every daemon's public address:

* sqlite (fsync at every commit): one process, against ``--processes 2`` (one
  parent, two daemons on its sockets and on one database file);
* Redis (one redis-server, append-only with fsync every second, as
  ``RedisServer`` runs it): one replica, against two replicas of their own.

Accepted is what was answered 200 per second of load; delivered is accepted
less what was still queued when the load ended (read from the store, which
every process shares). Rounds alternate 1 and 2 within each backend; it prints
each median and the ratio 2/1. Goal: 2 processes >= 1.7 x 1 process where the
host has the cores for it (this one may not: see docs/RELIABILITY.md).

    python scripts/bench_scale.py [--seconds 5] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

import bench_ingest
from bench_e2e import TOKEN, Daemon, start
from benchreport import report
from olactors.testing import RedisServer

SINK_ROUTE = '[[webhooks.routes]]\nsource = "stripe"\nevents = ["*"]\nhandler = "bench_sink:noop"\n'


def backlog(daemon: Daemon) -> int:
    """Items not yet delivered, across the store every process shares."""
    counts = httpx.get(
        f"{daemon.admin}/queues", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ).json()
    return sum(c["ready"] + c["leased"] + c["delayed"] for c in counts.values())


def cpu_s(pid: int) -> float:
    """CPU seconds ``pid`` and the children it waited for used so far (0 once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14 to 17 of stat, counted from the state.
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """``pid`` and its children (a parent's daemon processes), whichever of its threads
    started them (trio starts processes from worker threads)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(child) for child in (task / "children").read_text().split()]
    return [pid, *children]


@dataclass
class Figures:
    accepted: float  #: answered 200, per second of load
    delivered: float  #: accepted less the backlog when the load ended, per second
    daemon_ms: float  #: CPU milliseconds the daemons spent per accepted event
    loader_ms: float  #: and the load generator
    redis_ms: float  #: and redis-server


def measure(
    daemons: list[Daemon], seconds: float, connections: int, redis_pid: int | None
) -> Figures:
    """What ``daemons`` took and delivered under the load; then they are stopped."""
    try:
        urls = ",".join(daemon.public for daemon in daemons)
        bench_ingest.drive(urls, min(1.0, seconds), connections)  # warm-up, not counted
        before = backlog(daemons[0])
        pids = [pid for daemon in daemons for pid in family(daemon.process.pid)]
        cpu = [sum(cpu_s(pid) for pid in pids), _loader_cpu(), cpu_s(redis_pid or 0)]
        readings: list[int] = []
        done = threading.Event()

        def watch() -> None:
            # The backlog read while the load runs: the last one before it ends counts.
            while not done.is_set():
                readings.append(backlog(daemons[0]))
                done.wait(0.2)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            load = bench_ingest.drive(urls, seconds, connections)
        finally:
            done.set()
            watcher.join()
        used = [
            sum(cpu_s(pid) for pid in pids) - cpu[0],
            _loader_cpu() - cpu[1],
            cpu_s(redis_pid or 0) - cpu[2],
        ]
        accepted = load["rate"] * seconds - load["errors"]
        left = max(0, readings[-1] - before) if readings else 0
        per_event = [1000 * u / max(accepted, 1) for u in used]
        return Figures(accepted / seconds, (accepted - left) / seconds, *per_event)
    finally:
        for daemon in daemons:
            daemon.stop()


def _loader_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"cores this process may use: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as redis_server:
        workdir = Path(tmp)
        runs = 0

        def named(kind: str) -> str:
            nonlocal runs
            runs += 1
            return f"{kind}-{runs}"

        def redis_store(prefix: str) -> str:
            return f'backend = "redis"\nredis_url = "{redis_server.url}"\nredis_prefix = "{prefix}"'

        setups: dict[str, Callable[[], list[Daemon]]] = {
            "sqlite, 1 process": lambda: [start(workdir, named("s1"), SINK_ROUTE)],
            "sqlite, 2 processes": lambda: [
                start(workdir, named("s2"), SINK_ROUTE, server="processes = 2\n")
            ],
            "redis, 1 replica": lambda: [
                start(workdir, (name := named("r1")), SINK_ROUTE, store=redis_store(name))
            ],
            "redis, 2 replicas": lambda: [
                start(
                    workdir, f"{(prefix := named('r2'))}-{n}", SINK_ROUTE, store=redis_store(prefix)
                )
                for n in range(2)
            ],
        }
        redis_pid = redis_server.process.pid if redis_server.process else None
        figures: dict[str, list[Figures]] = {name: [] for name in setups}
        for round_ in range(args.rounds):
            for name, setup in setups.items():
                got = measure(setup(), args.seconds, args.connections, redis_pid)
                figures[name].append(got)
                print(
                    f"  round {round_ + 1} {name:20} accepted {got.accepted:7,.0f}/s"
                    f"  delivered {got.delivered:7,.0f}/s   CPU ms per event: daemons"
                    f" {got.daemon_ms:.2f}, load {got.loader_ms:.2f}, redis {got.redis_ms:.2f}"
                )
    for backend, one, two in (
        ("sqlite", "sqlite, 1 process", "sqlite, 2 processes"),
        ("redis", "redis, 1 replica", "redis, 2 replicas"),
    ):
        for what in ("accepted", "delivered"):
            report(
                f"{backend}: {what} events/s, 2 against 1",
                "ev/s",
                [getattr(f, what) for f in figures[one]],
                [getattr(f, what) for f in figures[two]],
                goal=1.7,
                labels=(one.split(", ")[1], two.split(", ")[1]),
            )
    print("CPU ms per accepted event (median): daemons, load generator, redis-server")
    for name, rows in figures.items():
        print(
            f"  {name:20} {statistics.median(f.daemon_ms for f in rows):.2f}"
            f"  {statistics.median(f.loader_ms for f in rows):.2f}"
            f"  {statistics.median(f.redis_ms for f in rows):.2f}"
        )


if __name__ == "__main__":
    main()
