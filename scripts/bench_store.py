"""Durable enqueue throughput through the store, against the bare library, in one run.

For each backend (sqlite in a temporary directory, and a redis-server this
script starts on a free loopback port with appendonly and fsync always), it
measures enqueues per second, each acknowledged only once durable:

* with 1 producer, against the bare library committing each item on its own
  (one sqlite transaction per insert, one Redis round trip per command): what
  a single caller that must wait for durability can do;
* with 64 concurrent producers, against the bare library batching 64 items
  per commit (one transaction of 64 inserts, one pipeline of 64 commands): the
  best a group commit of 64 waiting callers can reach.

The bare side does the same work as ours: the same table and statement for
sqlite, the same Lua script for Redis. Rounds alternate bare and ours; the
median is quoted with min and max to show the noise.

    python scripts/bench_store.py [--items 4000] [--single-items 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import redis
import trio

from benchreport import report
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import BackendFactory, NewItem, RedisBackend, SqliteBackend, Store, store_spec
from olactors.store import _redis_scripts as lua
from olactors.store._sqlite_schema import SCHEMA
from olactors.testing import RedisServer

PRODUCERS = 64
PAYLOAD = b'{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"payment_intent.succeeded"}' * 8


#: Runs ``items`` enqueues with ``producers`` (or ``batch``) at once; returns the seconds.
Bench = Callable[[int, int], float]


async def ours(make_backend: BackendFactory, items: int, producers: int) -> float:
    system = ActorSystem(SupervisorSpec("root", children=[store_spec(make_backend)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        store = Store.at(system, "/root/store", timeout_s=60)
        each = items // producers

        async def producer() -> None:
            for _ in range(each):
                await store.enqueue("bench", NewItem(payload=PAYLOAD, source="stripe"))

        start = time.perf_counter()
        async with trio.open_nursery() as workers:
            for _ in range(producers):
                workers.start_soon(producer)
        elapsed = time.perf_counter() - start
        system.shutdown()
    return elapsed


def bare_sqlite(path: Path, items: int, batch: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA)
    meta = msgspec.json.encode({})
    start = time.perf_counter()
    for first in range(0, items, batch):
        now = time.time()
        rows = [
            (NewItem(payload=PAYLOAD).id, "bench", now, "stripe", meta, PAYLOAD, now)
            for _ in range(min(batch, items - first))
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO items (id, queue, available_at, source, meta, payload, enqueued_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (queue, id) DO NOTHING",
            rows,
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def bare_redis(url: str, prefix: str, items: int, batch: int) -> float:
    client = redis.Redis.from_url(url)
    sha = client.script_load(lua.ENQUEUE)  # by SHA, as ours sends it: no per-batch check
    queue = "bench"
    keys = [f"{prefix}:queues", f"{prefix}:dedup:"]
    meta = msgspec.json.encode({})
    start = time.perf_counter()
    for first in range(0, items, batch):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(batch, items - first)):
            item_id = NewItem(payload=PAYLOAD).id
            args: list[str | bytes | int] = [
                queue,
                item_id,
                PAYLOAD,
                "stripe",
                meta,
                0,
                1,
                f"{prefix}:q:{{{queue}}}:",
                "0",
                "",
                f"{prefix}:wake",
            ]
            pipe.evalsha(sha, len(keys), *keys, *args)
        pipe.execute()
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000, help="items with 64 producers")
    parser.add_argument("--single-items", type=int, default=400, help="items with 1 producer")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as server:
        root = Path(tmp)
        runs = 0

        def fresh() -> int:
            nonlocal runs
            runs += 1
            return runs

        def sqlite_ours(items: int, producers: int) -> float:
            path = root / f"ours-{fresh()}.db"
            return trio.run(ours, lambda role: SqliteBackend(path, role=role), items, producers)

        def redis_ours(items: int, producers: int) -> float:
            prefix = f"ours{fresh()}"
            return trio.run(
                ours, lambda role: RedisBackend(server.url, prefix=prefix), items, producers
            )

        cases: list[tuple[str, Bench, Bench]] = [
            ("sqlite", lambda n, b: bare_sqlite(root / f"bare-{fresh()}.db", n, b), sqlite_ours),
            ("redis", lambda n, b: bare_redis(server.url, f"bare{fresh()}", n, b), redis_ours),
        ]
        for name, bare, mine in cases:
            for producers, items, batch, goal in (
                (1, args.single_items, 1, None),
                (PRODUCERS, args.items, PRODUCERS, 0.6),
            ):
                bare_times, our_times = [], []
                bare(min(items, 200), batch)  # warm-up, not counted
                mine(min(items, 200), producers)
                for _ in range(args.rounds):
                    bare_times.append(bare(items, batch))
                    our_times.append(mine(items, producers))
                title = f"{name}, {producers} producer{'s' if producers > 1 else ''}"
                title += f" (bare: {batch} per commit)"
                rates = ([items / t for t in bare_times], [items / t for t in our_times])
                report(title, "enqueues/s", *rates, goal)


if __name__ == "__main__":
    main()
