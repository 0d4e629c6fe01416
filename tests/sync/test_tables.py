"""A run's records on a real database: what is written, in one transaction, and what
resumes, deletes and conflicts, on sqlite and PostgreSQL alike."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from olactors.sync._sql import Database, open_postgres, open_sqlite
from olactors.sync._tables import LEASE_S, Busy, Item, LostLease, Policy, SyncTables

NOW = 1_800_000_000.0
#: The process running the sync in these tests.
ME = "test#1"


def customer(n: int, **changes: Any) -> Item:
    data = {"id": f"cus_{n:05d}", "name": f"Customer {n}", "plan": "basic", **changes}
    return Item(f"cus_{n:05d}", data, updated_at=NOW - 1000 + n)


DEFAULT = Policy()


def run_all(
    tables: SyncTables,
    pages: list[list[Item]],
    policy: Policy = DEFAULT,
    *,
    run: str = "run",
    full: bool = True,
) -> Any:
    keep = full and policy.allow_deletions
    kind = "full" if full else "incremental"
    tables.begin(run, kind, NOW, resume=False, owner=ME, keep_unchanged=keep)
    for n, page in enumerate(pages):
        last = n == len(pages) - 1
        tables.stage(page, None if last else f"page{n + 1}", owner=ME, now=NOW)
    return tables.apply(run, policy, complete_full=full, now=NOW, owner=ME)


def rows(db: Database, table: str) -> dict[str, tuple[Any, ...]]:
    with db.transaction() as cursor:
        cursor.execute(f"SELECT id, hash, seq, deleted, local_changed FROM {table}")
        return {r[0]: tuple(r[1:]) for r in cursor.fetchall()}


@pytest.fixture
def tables(db: Database) -> SyncTables:
    made = SyncTables(db, "customers")
    made.create()
    return made


def test_a_first_run_creates_every_record(tables: SyncTables) -> None:
    result = run_all(tables, [[customer(1), customer(2)], [customer(3)]])
    assert (result.created, result.updated, result.unchanged, result.fetched) == (3, 0, 0, 3)
    assert result.status == "succeeded"
    assert {r.id for r, _ in tables.records((0, ""), 10)} == {"cus_00001", "cus_00002", "cus_00003"}


def test_records_whose_hash_did_not_change_are_not_written(tables: SyncTables) -> None:
    run_all(tables, [[customer(1), customer(2)]], run="first")
    before = rows(tables.db, "sync_customers")
    result = run_all(tables, [[customer(2), customer(1, plan="pro")]], run="second")
    after = rows(tables.db, "sync_customers")
    assert (result.updated, result.unchanged) == (1, 1)
    assert after["cus_00002"] == before["cus_00002"]  # same seq: not written
    assert after["cus_00001"][1] > before["cus_00001"][1]


def test_a_run_that_fails_while_applying_leaves_the_records_as_they_were(
    tables: SyncTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_all(tables, [[customer(1), customer(2)]], run="first")
    before = rows(tables.db, "sync_customers")
    tables.begin("second", "full", NOW, resume=False, owner=ME)
    tables.stage([customer(1, plan="pro"), customer(3)], None, owner=ME, now=NOW)
    calls = 0
    original = SyncTables._write

    def crash_on_the_second_write(self: SyncTables, cursor: Any, writes: Any) -> None:
        nonlocal calls
        calls += 1
        original(self, cursor, writes)
        raise OSError("the disk went away")

    monkeypatch.setattr(SyncTables, "_write", crash_on_the_second_write)
    with pytest.raises(OSError, match="disk went away"):
        tables.apply("second", Policy(), complete_full=True, now=NOW, owner=ME)
    assert calls == 1
    assert rows(tables.db, "sync_customers") == before


def test_a_fetch_resumes_from_its_last_committed_page(tables: SyncTables) -> None:
    tables.begin("first", "full", NOW, resume=False, owner=ME)
    tables.stage([customer(1), customer(2)], "page2", owner=ME, now=NOW)
    state = tables.state()  # the process dies here
    assert (state.fetching, state.fetch_cursor, state.fetched) == (True, "page2", 2)
    later = NOW + LEASE_S + 1  # its lease has lapsed: another process takes the sync
    tables.begin("again", "full", later, resume=True, owner="test#2")
    tables.stage([customer(3)], None, owner="test#2", now=later)
    result = tables.apply("again", Policy(), complete_full=True, now=later, owner="test#2")
    assert (result.created, result.fetched) == (3, 3)


def test_deletions_need_allow_deletions(tables: SyncTables) -> None:
    run_all(tables, [[customer(1), customer(2)]], run="first")
    result = run_all(tables, [[customer(1)]], run="second")
    assert result.deleted == 0
    kept = {r.id: r.deleted for r, _ in tables.records((0, ""), 10)}
    assert kept == {"cus_00001": False, "cus_00002": False}


def test_a_complete_full_fetch_deletes_what_the_source_no_longer_has(tables: SyncTables) -> None:
    policy = Policy(allow_deletions=True)
    run_all(tables, [[customer(1), customer(2)]], policy, run="first")
    result = run_all(tables, [[customer(1)]], policy, run="second")
    assert result.deleted == 1
    assert {r.id: r.deleted for r, _ in tables.records((0, ""), 10)}["cus_00002"] is True


def test_a_fetch_resumed_after_a_failure_deletes_only_what_the_whole_fetch_missed(
    tables: SyncTables,
) -> None:
    policy = Policy(allow_deletions=True)
    run_all(tables, [[customer(1), customer(2), customer(3)]], policy, run="first")
    tables.begin("second", "full", NOW, resume=False, owner=ME, keep_unchanged=True)
    tables.stage([customer(1)], "page2", owner=ME, now=NOW)
    tables.fail("second", "provider said 500", NOW, ME, keep_checkpoint=True)
    assert all(not r.deleted for r, _ in tables.records((0, ""), 10))
    tables.begin("third", "full", NOW, resume=True, owner=ME)
    tables.stage([customer(2)], None, owner=ME, now=NOW)  # cus_3 is gone now
    result = tables.apply("third", policy, complete_full=True, now=NOW, owner=ME)
    deleted = {r.id for r, _ in tables.records((0, ""), 10) if r.deleted}
    assert (result.deleted, deleted) == (1, {"cus_00003"})


def test_a_fetch_begun_without_deletions_never_deletes_even_if_they_are_allowed_later(
    tables: SyncTables,
) -> None:
    run_all(tables, [[customer(1), customer(2)]], run="first")
    tables.begin("second", "full", NOW, resume=False, owner=ME, keep_unchanged=False)
    tables.stage([customer(1)], "page2", owner=ME, now=NOW)
    tables.begin("third", "full", NOW, resume=True, owner=ME)  # now with deletions on
    tables.stage([], None, owner=ME, now=NOW)
    allowed = Policy(allow_deletions=True)
    result = tables.apply("third", allowed, complete_full=True, now=NOW, owner=ME)
    assert result.deleted == 0


def test_an_older_version_read_again_never_replaces_a_newer_one(tables: SyncTables) -> None:
    newest = Item("cus_00001", customer(1, plan="pro").data, updated_at=NOW)
    older = Item("cus_00001", customer(1, plan="basic").data, updated_at=NOW - 50)
    run_all(tables, [[newest]], run="first")
    # Events overlap: the newest is read again, and an older one on the next page.
    result = run_all(tables, [[newest], [older]], run="second", full=False)
    assert (result.updated, result.unchanged) == (0, 2)
    assert [r.data["plan"] for r, _ in tables.records((0, ""), 10)] == ["pro"]


def test_a_refresh_applied_during_a_fetch_is_not_undone_by_it(tables: SyncTables) -> None:
    run_all(tables, [[customer(1)]], run="first")
    tables.begin("second", "full", NOW, resume=False, owner=ME)
    listed = Item("cus_00001", customer(1, plan="mid").data, updated_at=NOW)
    tables.stage([listed], None, owner=ME, now=NOW)  # as listed when the fetch began
    fresh = Item("cus_00001", customer(1, plan="pro").data, updated_at=NOW + 30)
    tables.apply_items("webhook", [fresh], Policy(), NOW + 30)
    tables.apply("second", Policy(), complete_full=True, now=NOW + 60, owner=ME)
    assert [r.data["plan"] for r, _ in tables.records((0, ""), 10)] == ["pro"]


def test_a_sync_held_by_one_process_is_not_run_by_another_until_its_lease_lapses(
    tables: SyncTables,
) -> None:
    tables.begin("mine", "full", NOW, resume=False, owner=ME)
    with pytest.raises(Busy):
        tables.begin("theirs", "full", NOW + 1, resume=False, owner="test#2")
    later = NOW + LEASE_S + 1
    tables.begin("theirs", "full", later, resume=False, owner="test#2")
    with pytest.raises(LostLease):
        tables.stage([customer(1)], None, owner=ME, now=later)


def test_an_incremental_run_never_infers_deletions(tables: SyncTables) -> None:
    policy = Policy(allow_deletions=True)
    run_all(tables, [[customer(1), customer(2)]], policy, run="first")
    result = run_all(tables, [[customer(1, plan="pro")]], policy, run="second", full=False)
    assert (result.updated, result.deleted) == (1, 0)


def test_the_cursor_gives_changes_since_it_deletions_included(tables: SyncTables) -> None:
    policy = Policy(allow_deletions=True)
    run_all(tables, [[customer(1), customer(2), customer(3)]], policy, run="first")
    page = tables.records((0, ""), 2)
    assert [r.id for r, _ in page] == ["cus_00001", "cus_00002"]
    last = page[-1][1], page[-1][0].id
    run_all(tables, [[customer(1), customer(3, plan="pro")]], policy, run="second")
    since = tables.records(last, 10)
    # cus_00003 changed again since: it comes once, as it is now.
    assert [(r.id, r.deleted) for r, _ in since] == [("cus_00002", True), ("cus_00003", False)]


def newer_item(n: int, **changes: Any) -> Item:
    item = customer(n, **changes)
    return Item(item.id, item.data, updated_at=NOW + 60)


def test_a_local_change_stays_while_the_source_does_not_change(tables: SyncTables) -> None:
    run_all(tables, [[customer(1)]], run="first")
    tables.put_local("cus_00001", {"id": "cus_00001", "name": "Mine", "plan": "basic"}, NOW)
    result = run_all(tables, [[customer(1)]], run="second")
    assert (result.unchanged, result.conflicts) == (1, 0)
    ((record, _),) = tables.records((0, ""), 10)
    assert record.data["name"] == "Mine"


def test_last_write_wins_takes_the_newer_side(tables: SyncTables) -> None:
    run_all(tables, [[customer(1), customer(2)]], run="first")
    for n in (1, 2):
        tables.put_local(f"cus_0000{n}", {"id": f"cus_0000{n}", "name": "Mine"}, NOW)
    # cus_1 changed there after the local write; cus_2 before it.
    result = run_all(tables, [[newer_item(1, plan="pro"), customer(2, plan="pro")]], run="s")
    got = {r.id: r.data for r, _ in tables.records((0, ""), 10)}
    assert result.conflicts == 2
    assert got["cus_00001"]["plan"] == "pro"
    assert got["cus_00002"] == {"id": "cus_00002", "name": "Mine"}


def test_merge_keeps_fields_changed_on_one_side_and_gives_the_rest_to_the_winner(
    tables: SyncTables,
) -> None:
    policy = Policy(conflict="merge", winner="external")
    run_all(tables, [[customer(1)]], policy, run="first")
    local = {"id": "cus_00001", "name": "Mine", "plan": "local-plan"}
    tables.put_local("cus_00001", local, NOW)
    result = run_all(tables, [[customer(1, plan="pro", email="a@b.c")]], policy, run="second")
    ((record, _),) = tables.records((0, ""), 10)
    assert result.conflicts == 1
    assert record.data == {"id": "cus_00001", "name": "Mine", "plan": "pro", "email": "a@b.c"}


def test_manual_keeps_the_local_record_and_queues_both_versions_and_the_base(
    tables: SyncTables,
) -> None:
    policy = Policy(conflict="manual")
    run_all(tables, [[customer(1)]], policy, run="first")
    local = {"id": "cus_00001", "name": "Mine", "plan": "basic"}
    tables.put_local("cus_00001", local, NOW)
    run_all(tables, [[customer(1, plan="pro")]], policy, run="second")
    (conflict,) = tables.conflicts("", 10)
    assert conflict.local == local
    assert conflict.external == customer(1, plan="pro").data
    assert conflict.base == customer(1).data
    assert [r.data for r, _ in tables.records((0, ""), 10)] == [local]
    again = run_all(tables, [[customer(1, plan="pro")]], policy, run="third")
    assert len(tables.conflicts("", 10)) == 1
    assert again.conflicts == 1


def test_a_resolved_conflict_takes_the_chosen_version_and_does_not_come_back(
    tables: SyncTables,
) -> None:
    policy = Policy(conflict="manual")
    run_all(tables, [[customer(1)]], policy, run="first")
    tables.put_local("cus_00001", {"id": "cus_00001", "name": "Mine"}, NOW)
    run_all(tables, [[customer(1, plan="pro")]], policy, run="second")
    tables.resolve("cus_00001", "external", None, NOW)
    assert tables.conflicts("", 10) == []
    assert [r.data for r, _ in tables.records((0, ""), 10)] == [customer(1, plan="pro").data]
    result = run_all(tables, [[customer(1, plan="pro")]], policy, run="third")
    assert (result.conflicts, result.unchanged) == (0, 1)


def test_an_edited_record_resolves_a_conflict_as_a_local_write(tables: SyncTables) -> None:
    policy = Policy(conflict="manual")
    run_all(tables, [[customer(1)]], policy, run="first")
    tables.put_local("cus_00001", {"id": "cus_00001", "name": "Mine"}, NOW)
    run_all(tables, [[customer(1, plan="pro")]], policy, run="second")
    edited = {"id": "cus_00001", "name": "Mine", "plan": "pro"}
    tables.resolve("cus_00001", None, edited, NOW)
    result = run_all(tables, [[customer(1, plan="pro")]], policy, run="third")
    assert [r.data for r, _ in tables.records((0, ""), 10)] == [edited]
    assert result.conflicts == 0


def test_the_app_s_own_records_are_never_deleted_by_a_sync(tables: SyncTables) -> None:
    policy = Policy(allow_deletions=True)
    run_all(tables, [[customer(1)]], policy, run="first")
    tables.put_local("mine_1", {"id": "mine_1"}, NOW)
    result = run_all(tables, [[customer(1)]], policy, run="second")
    assert result.deleted == 0
    assert {r.id: r.deleted for r, _ in tables.records((0, ""), 10)}["mine_1"] is False


def test_a_record_deleted_by_the_source_comes_back_when_the_source_has_it_again(
    tables: SyncTables,
) -> None:
    policy = Policy(allow_deletions=True)
    run_all(tables, [[customer(1), customer(2)]], policy, run="first")
    run_all(tables, [[customer(1)]], policy, run="second")
    result = run_all(tables, [[customer(1), newer_item(2)]], policy, run="third")
    assert result.created == 1
    assert all(not r.deleted for r, _ in tables.records((0, ""), 10))


def test_an_app_write_during_a_run_waits_for_it_and_is_kept(
    tables: SyncTables, db: Database, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    run_all(tables, [[customer(1)]], run="first")
    tables.begin("second", "full", NOW, resume=False, owner=ME)
    tables.stage([customer(1, plan="pro")], None, owner=ME, now=NOW)
    other = (
        open_postgres(request.getfixturevalue("postgres_url"), None)
        if db.postgres
        else open_sqlite(tmp_path / "sync.db")
    )
    app = SyncTables(other, "customers")
    inside, written = threading.Event(), threading.Event()
    original = SyncTables._write

    def slow_write(self: SyncTables, cursor: Any, writes: Any) -> None:
        original(self, cursor, writes)
        if self is tables:
            inside.set()
            written.wait(timeout=1.0)  # the app's write is under way meanwhile

    def app_write() -> None:
        inside.wait(timeout=10)
        app.put_local("cus_00001", {"id": "cus_00001", "name": "Mine"}, NOW + 1)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SyncTables, "_write", slow_write)
        writer = threading.Thread(target=app_write)
        writer.start()
        tables.apply("second", Policy(), complete_full=True, now=NOW, owner=ME)
        written.set()
        writer.join(timeout=30)
    other.close()
    assert not writer.is_alive()
    ((record, _),) = tables.records((0, ""), 10)
    assert record.data == {"id": "cus_00001", "name": "Mine"}  # after the run's, not lost
