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
import os
import statistics
import tempfile
from collections.abc import Callable
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


def measure(daemons: list[Daemon], seconds: float, connections: int) -> tuple[float, float]:
    """(accepted/s, delivered/s) of ``daemons`` under the load, then they are stopped."""
    try:
        urls = ",".join(daemon.public for daemon in daemons)
        bench_ingest.drive(urls, min(1.0, seconds), connections)  # warm-up, not counted
        before = backlog(daemons[0])
        load = bench_ingest.drive(urls, seconds, connections)
        accepted = load["rate"] * seconds - load["errors"]
        left = backlog(daemons[0]) - before
        return accepted / seconds, (accepted - left) / seconds
    finally:
        for daemon in daemons:
            daemon.stop()


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
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
        for round_ in range(args.rounds):
            for name, setup in setups.items():
                accepted, delivered = measure(setup(), args.seconds, args.connections)
                figures[name].append((accepted, delivered))
                print(
                    f"  round {round_ + 1} {name:20} accepted {accepted:7,.0f}/s"
                    f"  delivered {delivered:7,.0f}/s"
                )
    for backend, one, two in (
        ("sqlite", "sqlite, 1 process", "sqlite, 2 processes"),
        ("redis", "redis, 1 replica", "redis, 2 replicas"),
    ):
        for column, what in ((0, "accepted"), (1, "delivered")):
            report(
                f"{backend}: {what} events/s, 2 against 1",
                "ev/s",
                [f[column] for f in figures[one]],
                [f[column] for f in figures[two]],
                goal=1.7,
                labels=(one.split(", ")[1], two.split(", ")[1]),
            )
    medians = {name: statistics.median(a for a, _ in rows) for name, rows in figures.items()}
    print({name: round(value) for name, value in medians.items()})


if __name__ == "__main__":
    main()
