"""What only the sqlite backend promises: WAL, fsync per commit, group commit, clear open errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from olactors.runtime import ActorSystem, ChildStartFailed, SupervisorSpec
from olactors.store import NewItem, SqliteBackend, store_spec

from .conftest import open_store, sqlite_backends


def test_the_writer_runs_in_wal_mode_with_fsync_at_every_commit(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "olactors.db")
    backend.open()
    try:
        facts = backend.describe()
    finally:
        backend.close()
    assert (facts["journal_mode"], facts["synchronous"]) == ("wal", "FULL")


async def test_concurrent_enqueues_share_commits(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, sqlite_backends(tmp_path / "o.db"))
        async with trio.open_nursery() as producers:
            for n in range(64):
                producers.start_soon(store.enqueue, "q", NewItem(payload=str(n).encode()))
        writer = system.actor_snapshot("/root/store/writer").state
        assert (await store.counts("q")).ready == 64
        system.shutdown()
    assert writer["commands"] == 64
    assert writer["batches"] < 64
    assert writer["largest_batch"] > 1


async def test_a_store_that_cannot_open_its_file_fails_the_start_and_says_why(
    tmp_path: Path,
) -> None:
    (tmp_path / "not-a-dir").write_text("")
    spec = SupervisorSpec(
        "root", children=[store_spec(sqlite_backends(tmp_path / "not-a-dir" / "o.db"))]
    )
    with pytest.raises(ChildStartFailed, match=r"store/writer failed to start: StoreUnavailable"):
        await ActorSystem(spec).run()


async def test_reads_go_on_while_another_connection_holds_an_exclusive_write_lock(
    tmp_path: Path,
) -> None:
    db = tmp_path / "o.db"
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, sqlite_backends(db))
        await store.enqueue("q", NewItem(payload=b"x"))
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        blocker.execute("DELETE FROM kv")
        try:
            # In WAL mode the reader sees the last commit and does not wait.
            assert (await store.counts("q")).ready == 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        system.shutdown()


_SCHEMA_V1 = """
CREATE TABLE items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, queue TEXT NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0, available_at REAL NOT NULL, lease_token TEXT,
    attempt INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL, meta BLOB NOT NULL,
    payload BLOB NOT NULL, enqueued_at REAL NOT NULL, last_error TEXT, dead_at REAL,
    UNIQUE (queue, id)
);
CREATE TABLE dedup (key TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL) WITHOUT ROWID;
INSERT INTO items (id, queue, available_at, source, meta, payload, enqueued_at)
    VALUES ('evt_old', 'q', 0, 'stripe', X'7B7D', X'6B657074', 0);
PRAGMA user_version = 1;
"""


async def test_a_file_of_the_first_schema_is_migrated_with_its_items(tmp_path: Path) -> None:
    path = tmp_path / "var" / "olactors.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_V1)
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, sqlite_backends(path))
        lease = await store.claim("q", lease_s=30)
        assert lease is not None
        assert (lease.item.id, lease.item.payload) == ("evt_old", b"kept")
        await store.enqueue("q", NewItem(payload=b"a", id="evt_a", order_key="k"))
        await store.enqueue("q", NewItem(payload=b"b", id="evt_b", order_key="k"))
        assert (await store.counts("q")).held == 1
        system.shutdown()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
