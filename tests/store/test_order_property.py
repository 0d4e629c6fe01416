"""Per-key order holds for any interleaving of arrivals, failures and restarts (sqlite),
and nothing waits behind its key forever."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from olactors.store import Lease, LeaseLost, NewItem, SqliteBackend
from olactors.store._commands import Ack, Bury, Claim, Enqueue, Nack, Settle, Settlement

KEYS = ("cus_a", "cus_b", "cus_c")
_runs = itertools.count()

steps = st.lists(
    st.one_of(
        st.tuples(st.just("arrive"), st.sampled_from(KEYS)),
        st.tuples(st.just("claim"), st.integers(1, 4)),
        st.tuples(st.sampled_from(["ack", "nack", "bury", "release"]), st.integers(0, 7)),
        # A worker dies: every lease it held runs out.
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=60,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_items_of_one_key_are_done_in_arrival_order_and_never_two_at_once(
    tmp_path: Path, steps: list[tuple[str, Any]]
) -> None:
    now = [1_000_000.0]
    path = tmp_path / f"order-{next(_runs)}.db"  # a fresh store for every example
    backend = SqliteBackend(path, clock=lambda: now[0])
    backend.open()
    try:
        arrived: dict[str, list[str]] = {key: [] for key in KEYS}
        finished: set[str] = set()  # acked or buried: out of its key's line
        held: list[tuple[Lease, str]] = []  # leases a live worker holds, with the key
        count = 0
        for action, value in steps:
            if action == "arrive":
                count += 1
                item_id = f"e{count}"
                arrived[value].append(item_id)
                backend.execute([Enqueue("q", NewItem(b"", id=item_id, order_key=value))])
            elif action == "claim":
                [claimed] = backend.execute([Claim("q", 30, f"t{now[0]}-{count}", limit=value)])
                for lease in claimed.leases:
                    key = next(k for k, ids in arrived.items() if lease.item.id in ids)
                    held = [(h, k) for h, k in held if h.item.id != lease.item.id]
                    held.append((lease, key))
                live_keys = [key for _, key in held]
                assert len(live_keys) == len(set(live_keys)), "two items of one key at once"
            elif action == "restart":
                held = []
                now[0] += 60  # past every lease
            elif held:
                lease, key = held.pop(value % len(held))
                item = lease.item
                if action == "ack":
                    before = arrived[key][: arrived[key].index(item.id)]
                    assert set(before) <= finished, f"{item.id} done before {before}"
                [outcome] = backend.execute(
                    [
                        {
                            "ack": Ack("q", item.id, lease.token),
                            "nack": Nack("q", item.id, lease.token, "failed", 0),
                            "bury": Bury("q", item.id, lease.token, "gave up"),
                            "release": Settle([Settlement("q", item.id, lease.token, "release")]),
                        }[action]
                    ]
                )
                lost = isinstance(outcome, LeaseLost) or (
                    isinstance(outcome, list) and isinstance(outcome[0], LeaseLost)
                )
                assert not lost  # a live worker's lease is never lost
                if action in ("ack", "bury"):
                    finished.add(item.id)
            now[0] += 0.001
        # Then every worker dies and one drains the queue: everything still in
        # it comes out, each key in order (a held item is never stuck).
        now[0] += 60
        for round_ in range(count + 1):
            [claimed] = backend.execute([Claim("q", 30, f"drain-{round_}", limit=10)])
            for lease in claimed.leases:
                key = next(k for k, ids in arrived.items() if lease.item.id in ids)
                before = arrived[key][: arrived[key].index(lease.item.id)]
                assert set(before) <= finished, f"{lease.item.id} done before {before}"
                backend.execute([Ack("q", lease.item.id, lease.token)])
                finished.add(lease.item.id)
        assert finished == {item_id for ids in arrived.values() for item_id in ids}
    finally:
        backend.close()
