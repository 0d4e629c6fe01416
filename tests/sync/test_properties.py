"""The sync's laws, for any records: a snapshot applied twice changes nothing the second
time; a merge of changes to different fields keeps both; last-write-wins picks the same
version in whatever order the same changes come."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from olactors.sync._records import content_hash
from olactors.sync._rules import Version, merge, newer
from olactors.sync._sql import open_sqlite
from olactors.sync._tables import Item, Policy, SyncTables

values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
fields = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
records = st.dictionaries(fields, values, max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    snapshot=st.dictionaries(st.text(alphabet="xyz0123", min_size=1, max_size=4), records),
    allow_deletions=st.booleans(),
)
def test_the_same_snapshot_applied_twice_changes_nothing_the_second_time(
    snapshot: dict[str, dict[str, Any]], allow_deletions: bool
) -> None:
    items = [Item(key, data, updated_at=1.0) for key, data in snapshot.items()]
    with tempfile.TemporaryDirectory() as folder:
        db = open_sqlite(Path(folder) / "sync.db")
        try:
            tables = SyncTables(db, "things")
            tables.create()
            policy = Policy(allow_deletions=allow_deletions)
            results, seen = [], []
            for run in ("first", "second"):
                tables.begin(run, "full", 10.0, resume=False, owner="p", keep_unchanged=True)
                tables.stage(items, None, owner="p", now=10.0)
                results.append(tables.apply(run, policy, complete_full=True, now=10.0, owner="p"))
                seen.append(tables.records((0, ""), 10_000))
            second = results[1]
            assert (second.created, second.updated, second.deleted) == (0, 0, 0)
            assert second.unchanged == len(items)
            assert seen[1] == seen[0]  # not one record written: each keeps its first seq
        finally:
            db.close()


@given(base=records, data=st.data())
def test_a_merge_of_changes_to_different_fields_keeps_both_sides(
    base: dict[str, Any], data: st.DataObject
) -> None:
    names = sorted(set(base) | set("abcdefgh"))
    ours = data.draw(st.sets(st.sampled_from(names)), label="fields changed here")
    rest = sorted(set(names) - ours)
    theirs = data.draw(st.sets(st.sampled_from(rest)) if rest else st.just(set()), label="there")
    local, external, expected = dict(base), dict(base), dict(base)
    for name in ours:
        local[name] = expected[name] = data.draw(values.map(lambda v: ("here", v)))
    for name in theirs:
        external[name] = expected[name] = data.draw(values.map(lambda v: ("there", v)))
    winner = data.draw(st.sampled_from(["external", "local"]))
    assert merge(base, local, external, winner) == expected


versions = st.builds(
    lambda data, at: Version(data, content_hash(data), at),
    records,
    st.one_of(st.none(), st.integers(0, 5).map(float)),
)


@given(changes=st.lists(versions, min_size=1, max_size=6), data=st.data())
def test_last_write_wins_picks_the_same_version_in_any_order(
    changes: list[Version], data: st.DataObject
) -> None:
    def last(order: list[Version]) -> Version:
        chosen = order[0]
        for version in order[1:]:
            chosen = newer(chosen, version)
        return chosen

    shuffled = data.draw(st.permutations(changes))
    assert last(shuffled) == last(changes)
