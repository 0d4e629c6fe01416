"""A sync run's diff and apply of 100,000 records, against a bare upsert, in one run.

For each database (sqlite in a temporary directory, and PostgreSQL when one
answers at --postgres, a database made and dropped here), it starts from
100,000 records already synced and measures one full run of a changed
snapshot: 10 % of the records changed, 1 % new, 1 % gone (deletions on).

* ours: the daemon's own run (scripts see the same code the sync actor
  runs): a local source hands out pages of 1,000; each page is hashed,
  compared with what was synced and staged with its checkpoint, then the
  whole run is applied in one transaction.
* bare: one ``executemany`` upsert of the same 12,000 changes into a table
  of the same shape, already knowing which they are.

Rates are records per second, each side counting the records it handled:
ours the 100,000 it had to compare, bare the 12,000 it was handed. Rounds
alternate the two; the median is quoted with min and max. Peak Python
memory of one run (tracemalloc) shows that pages stream: it stays far
below the 100,000 records' size.

    python scripts/bench_sync.py [--records 100000] [--rounds 3] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import trio

from benchreport import report
from olactors.sync._access import SyncAccess
from olactors.sync._records import canonical, content_hash
from olactors.sync._runner import Plan, execute
from olactors.sync._source import Page
from olactors.sync._sql import Database, open_postgres, open_sqlite
from olactors.sync._tables import Item, Policy

PAGE = 1000
NOW = 1_800_000_000.0


def snapshot(count: int, changed: bool) -> list[Item]:
    """The source's records; ``changed``: 10 % changed, 1 % new, 1 % gone."""
    items = []
    for n in range(count):
        if changed and n % 100 == 0:
            continue  # gone
        plan = "pro" if changed and n % 10 == 1 else "basic"
        items.append(_item(n, plan))
    if changed:
        items += [_item(count + n, "basic") for n in range(count // 100)]
    return items


def _item(n: int, plan: str) -> Item:
    data: dict[str, Any] = {
        "id": f"cus_{n:07d}",
        "object": "customer",
        "name": f"Customer {n}",
        "email": f"customer{n}@example.com",
        "plan": plan,
        "balance": n % 977,
        "metadata": {"tier": str(n % 5), "region": "eu"},
    }
    return Item(f"cus_{n:07d}", data, updated_at=NOW)


class LocalSource:
    """Pages of a snapshot held in memory (the fake provider, without HTTP)."""

    incremental = False
    targeted = False

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items

    async def page(self, cursor: str | None, since: float | None, started_at: float) -> Page:
        start = int(cursor or 0)
        end = start + PAGE
        return Page(list(self.items[start:end]), str(end) if end < len(self.items) else None)

    async def fetch(self, ids: Sequence[str], started_at: float) -> list[Item]:
        return []

    async def aclose(self) -> None:
        return None


async def one_run(open_db: Callable[[], Database], items: Sequence[Item], run: str) -> Any:
    access = SyncAccess(open_db, "bench")
    try:
        tables = await access.tables()
        await access.call(
            tables.begin, run, "full", NOW, resume=False, owner="bench", keep_unchanged=True
        )
        plan = Plan("full", None, None, False, NOW)
        policy = Policy(allow_deletions=True)
        source = LocalSource(items)
        return await execute(access, source, policy, run, plan, lambda: NOW, "bench")
    finally:
        await access.aclose()


def reset(db: Database) -> None:
    with db.transaction() as cursor:
        for table in ("sync_bench", "sync_bench_staging", "bare", "sync_state", "sync_runs"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def ours_round(open_db: Callable[[], Database], before: list[Item], after: list[Item]) -> float:
    db = open_db()
    reset(db)
    db.close()
    first = trio.run(one_run, open_db, before, "setup")
    assert first.created == len(before), first
    began = time.perf_counter()
    result = trio.run(one_run, open_db, after, "measured")
    seconds = time.perf_counter() - began
    expected = (len(before) // 100, len(before) // 10, len(before) // 100)
    assert (result.created, result.updated, result.deleted) == expected, result
    return seconds


def bare_round(open_db: Callable[[], Database], before: list[Item], after: list[Item]) -> float:
    db = open_db()
    reset(db)
    json_type = "JSONB" if db.postgres else "TEXT"
    value = db.json_in()
    upsert = db.sql(
        f"INSERT INTO bare (id, data, hash, deleted) VALUES (?, {value}, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET data = excluded.data, hash = excluded.hash, "
        "deleted = excluded.deleted"
    )
    with db.transaction() as cursor:
        cursor.execute(
            f"CREATE TABLE bare (id TEXT PRIMARY KEY, data {json_type} NOT NULL, "
            "hash TEXT NOT NULL, deleted BOOLEAN NOT NULL)"
        )
        cursor.executemany(upsert, [_row(item, False) for item in before])
    # The changes, already known: what a caller that diffed elsewhere would write.
    previous = {item.id: content_hash(item.data) for item in before}
    current = {item.id for item in after}
    changes = [_row(i, False) for i in after if previous.get(i.id) != content_hash(i.data)]
    changes += [_row(i, True) for i in before if i.id not in current]
    began = time.perf_counter()
    with db.transaction() as cursor:
        cursor.executemany(upsert, changes)
    seconds = time.perf_counter() - began
    db.close()
    assert len(changes) == len(before) * 12 // 100
    return seconds


def _row(item: Item, deleted: bool) -> tuple[Any, ...]:
    return (item.id, canonical(item.data).decode(), content_hash(item.data), deleted)


def peak_memory(open_db: Callable[[], Database], before: list[Item], after: list[Item]) -> float:
    db = open_db()
    reset(db)
    db.close()
    trio.run(one_run, open_db, before, "setup")
    tracemalloc.start()
    trio.run(one_run, open_db, after, "measured")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def bench(name: str, open_db: Callable[[], Database], records: int, rounds: int) -> None:
    before, after = snapshot(records, False), snapshot(records, True)
    changes = records * 12 // 100
    bare_rates, our_rates, our_seconds = [], [], []
    for _ in range(rounds):
        bare_rates.append(changes / bare_round(open_db, before, after))
        seconds = ours_round(open_db, before, after)
        our_seconds.append(seconds)
        our_rates.append(records / seconds)
    report(
        f"{name}: {records:,} records, {changes:,} changed (bare: only those)",
        "records/s",
        bare_rates,
        our_rates,
        goal=0.5,
    )
    print(
        f"  ours: the whole run in median {statistics.median(our_seconds):.2f} s"
        f"   (min {min(our_seconds):.2f}, max {max(our_seconds):.2f})   goal < 5 s"
    )
    size = sum(len(canonical(item.data)) for item in after) / 1e6
    print(
        f"  peak Python memory of one run: {peak_memory(open_db, before, after):.1f} MB"
        f"   (the snapshot's records: {size:.1f} MB of JSON, held here by the script)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sync.db"
        bench("sqlite", lambda: open_sqlite(path), args.records, args.rounds)
    if args.no_postgres:
        return
    name = f"olactors_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        print(f"postgresql: skipped, {args.postgres} does not answer ({exc})")
        return
    try:
        url = f"{args.postgres}/{name}"
        bench("postgresql", lambda: open_postgres(url, None), args.records, args.rounds)
    finally:
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
