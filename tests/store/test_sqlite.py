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
        writer = system.snapshot("/root/store/writer").state  # type: ignore[union-attr]
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
