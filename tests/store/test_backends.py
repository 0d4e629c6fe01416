"""Each backend on its own (no actors): ordering inside one batch, purging, faulty backends."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import (
    Backend,
    NewItem,
    RedisBackend,
    SqliteBackend,
    Store,
    StoreError,
    store_spec,
)
from olactors.store._commands import Claim, ClaimKey, Enqueue
from olactors.testing import RedisServer

from .conftest import sqlite_backends


@pytest.fixture(params=["sqlite", "redis"])
def writer(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    backend: Backend
    if request.param == "sqlite":
        backend = SqliteBackend(tmp_path / "o.db")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        backend = RedisBackend(server.url, prefix="direct")
    backend.open()
    yield backend
    backend.close()


def test_items_enqueued_in_one_batch_are_claimed_in_that_order(writer: Backend) -> None:
    ids = [f"evt_{n}" for n in (9, 10, 2, 11, 1)]  # not in text order
    writer.execute([Enqueue("q", NewItem(payload=b"x", id=i)) for i in ids])
    leases = writer.execute([Claim("q", 30, f"t{n}") for n in range(len(ids))])
    assert [claimed.leases[0].item.id for claimed in leases] == ids


def test_sqlite_purges_expired_keys_as_fast_as_they_expire(tmp_path: Path) -> None:
    now = [1_000_000.0]
    backend = SqliteBackend(tmp_path / "o.db", clock=lambda: now[0])
    backend.open()
    try:
        for start in range(0, 9000, 500):
            backend.execute([ClaimKey(f"k{n}", 1.0) for n in range(start, start + 500)])
        now[0] += 60  # every key has expired
        for _ in range(6):
            backend.execute([ClaimKey("fresh", 1.0)])
            now[0] += 0.01
        conn = backend._conn
        assert conn is not None
        (left,) = conn.execute("SELECT COUNT(*) FROM dedup").fetchone()
    finally:
        backend.close()
    assert left == 1


class FaultyBackend(SqliteBackend):
    """A backend with a bug: it raises on any batch holding a claim."""

    def execute(self, batch: list[Any]) -> list[Any]:
        if any(isinstance(command, Claim) for command in batch):
            raise IndexError("list index out of range")
        return super().execute(batch)


async def test_a_backend_bug_fails_its_batch_but_not_the_store(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    spec = SupervisorSpec(
        "root", children=[store_spec(lambda role: FaultyBackend(path, role=role))]
    )  # type: ignore[arg-type]
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        store = Store.at(system, "/root/store")
        with pytest.raises(StoreError, match="IndexError"):
            await store.claim("q", lease_s=30)
        assert await store.claim_key("evt_1", ttl_s=60) is True
        assert system.snapshot("/root/store/writer").restarts_total == 0
        system.shutdown()


async def test_an_ask_given_up_on_before_its_batch_runs_is_not_carried_out(
    tmp_path: Path,
) -> None:
    import sqlite3

    db = tmp_path / "o.db"
    async with trio.open_nursery() as nursery:
        system = ActorSystem(SupervisorSpec("root", children=[store_spec(sqlite_backends(db))]))
        await nursery.start(system.run)
        impatient = Store.at(system, "/root/store", timeout_s=0.3)
        store = Store.at(system, "/root/store")
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer's next batch waits for this lock

        async def first() -> None:
            with pytest.raises(StoreError):
                await impatient.claim_key("evt_first", ttl_s=60)

        nursery.start_soon(first)
        await trio.sleep(0.1)  # the writer is now stuck in that batch
        with pytest.raises(StoreError):
            await impatient.claim_key("evt_queued", ttl_s=60)  # waits behind it, gives up
        await trio.sleep(0.5)
        blocker.execute("ROLLBACK")
        blocker.close()
        # The queued ask was abandoned before its batch ran: its key was never taken.
        assert await store.claim_key("evt_queued", ttl_s=60) is True
        system.shutdown()


def test_the_sqlite_store_and_its_log_are_readable_by_the_daemons_user_only(
    tmp_path: Path,
) -> None:
    backend = SqliteBackend(tmp_path / "state" / "o.db", role="writer")
    backend.open()
    try:
        backend.execute([Enqueue("q", NewItem(payload=b"{}", id="a"))])
        files = [tmp_path / "state" / name for name in ("o.db", "o.db-wal", "o.db-shm")]
        assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600] * 3
        assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    finally:
        backend.close()


def test_an_existing_sqlite_store_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    backend = SqliteBackend(path, role="writer")
    backend.open()
    backend.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
