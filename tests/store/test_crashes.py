"""Crashes: acknowledged writes survive SIGKILL, leases of killed workers expire."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from olactors.store import NewItem, Store
from olactors.testing import RedisServer

from .conftest import MakeBackend, open_store, redis_backends, sqlite_backends

REPO = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.store_process", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


async def drain_ids(store: Store, queue: str) -> set[str]:
    seen = set()
    while (lease := await store.claim(queue, lease_s=60)) is not None:
        seen.add(lease.item.id)
    return seen


async def test_every_acknowledged_enqueue_survives_a_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "var" / "olactors.db"
    process = spawn("produce", "sqlite", str(db), "ingest")
    assert process.stdout is not None
    acknowledged = []
    for line in process.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= 3000:
            break
    process.send_signal(signal.SIGKILL)
    rest, _ = process.communicate(timeout=30)
    # Lines written before the kill were acknowledged too; a torn last line was not.
    acknowledged += [line for line in rest.splitlines() if len(line) == 32]
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, sqlite_backends(db))
        stored = await drain_ids(store, "ingest")
        system.shutdown()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged enqueues lost"


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_killed_workers_lease_expires_and_the_item_is_claimed_again(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        where, prefix = str(tmp_path / "olactors.db"), []
        backends: MakeBackend = sqlite_backends(Path(where))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        where, prefix = server.url, ["crash"]
        backends = redis_backends(server.url, "crash")
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, backends)
        sent = await store.enqueue("work", NewItem(payload=b"job"))
        worker = spawn("claim", kind, where, *prefix, "work", "1.0")
        assert worker.stdout is not None
        claimed = await trio.to_thread.run_sync(worker.stdout.readline)
        assert claimed.strip() == sent.id
        worker.kill()
        worker.communicate(timeout=30)
        assert await store.claim("work", lease_s=60) is None  # still leased by the dead worker
        await trio.sleep(1.3)
        lease = await store.claim("work", lease_s=60)
        assert lease is not None
        assert (lease.item.id, lease.item.attempt) == (sent.id, 2)
        system.shutdown()
