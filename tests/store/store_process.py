"""A store user in its own process, for tests that kill it with SIGKILL.

    python -m tests.store.store_process produce sqlite PATH QUEUE
    python -m tests.store.store_process claim   redis URL PREFIX QUEUE LEASE_S

``produce`` enqueues from 64 concurrent producers until killed and prints the
id of every item whose enqueue was acknowledged, one per line, flushed at
once. ``claim`` claims one item, prints its id, and hangs holding the lease.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import NewItem, RedisBackend, SqliteBackend, Store, store_spec


def backends(kind: str, where: str, prefix: str):  # type: ignore[no-untyped-def]
    if kind == "sqlite":
        return lambda role: SqliteBackend(Path(where), role=role)
    return lambda role: RedisBackend(where, prefix=prefix)


async def main(argv: list[str]) -> None:
    mode, kind, where = argv[:3]
    prefix = argv[3] if kind == "redis" else ""
    rest = argv[4:] if kind == "redis" else argv[3:]
    system = ActorSystem(
        SupervisorSpec("root", children=[store_spec(backends(kind, where, prefix))])
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        store = Store.at(system, "/root/store")
        if mode == "produce":
            queue = rest[0]

            async def producer(n: int) -> None:
                i = 0
                while True:
                    item = NewItem(payload=f"{n}-{i}".encode())
                    await store.enqueue(queue, item)
                    sys.stdout.write(item.id + "\n")
                    sys.stdout.flush()
                    i += 1

            for n in range(64):
                nursery.start_soon(producer, n)
        else:
            queue, lease_s = rest[0], float(rest[1])
            lease = await store.claim(queue, lease_s=lease_s)
            sys.stdout.write(("none" if lease is None else lease.item.id) + "\n")
            sys.stdout.flush()
            await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1:])
