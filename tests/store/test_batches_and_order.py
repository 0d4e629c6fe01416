"""Batched claims and settles, releases, and per-key order: both backends."""

from __future__ import annotations

import time

import pytest
import trio

from olactors.store import (
    InvalidStoreCall,
    ItemNotFound,
    LeaseLost,
    NewItem,
    QueueCounts,
    Settlement,
    Store,
)

SHORT = 0.3


def item(n: int, **fields: object) -> NewItem:
    return NewItem(payload=f"event-{n}".encode(), id=f"evt_{n}", **fields)  # type: ignore[arg-type]


def settled(lease_item_id: str, lease_token: str, action: str, **fields: object) -> Settlement:
    return Settlement("q", lease_item_id, lease_token, action, **fields)  # type: ignore[arg-type]


async def test_a_claim_takes_up_to_its_limit_oldest_first(store: Store) -> None:
    for n in range(5):
        await store.enqueue("q", item(n))
    first = await store.claim_many("q", lease_s=30, limit=3)
    second = await store.claim_many("q", lease_s=30, limit=3)
    assert [lease.item.id for lease in first.leases] == ["evt_0", "evt_1", "evt_2"]
    assert [lease.item.id for lease in second.leases] == ["evt_3", "evt_4"]
    assert all(lease.item.attempt == 1 for lease in first.leases + second.leases)


async def test_a_claim_says_when_the_next_delayed_item_is_due(store: Store) -> None:
    due = time.time() + 60
    await store.enqueue("q", item(1, not_before=due))
    claimed = await store.claim_many("q", lease_s=120, limit=10)
    assert claimed.leases == []
    assert claimed.next_due == pytest.approx(due, abs=0.01)


async def test_a_claim_of_an_empty_queue_has_nothing_due(store: Store) -> None:
    claimed = await store.claim_many("q", lease_s=30, limit=10)
    assert (claimed.leases, claimed.next_due) == ([], None)


async def test_a_claim_counts_a_held_lease_as_due_when_it_expires(store: Store) -> None:
    await store.enqueue("q", item(1))
    taken = await store.claim_many("q", lease_s=60, limit=1)
    again = await store.claim_many("q", lease_s=60, limit=1)
    assert again.leases == []
    assert again.next_due == pytest.approx(taken.leases[0].expires_at, abs=0.01)


async def test_a_claim_refuses_a_limit_out_of_range(store: Store) -> None:
    with pytest.raises(InvalidStoreCall):
        await store.claim_many("q", lease_s=30, limit=0)


async def test_one_settle_acks_nacks_buries_and_releases(store: Store) -> None:
    for n in range(4):
        await store.enqueue("q", item(n))
    leases = (await store.claim_many("q", lease_s=30, limit=4)).leases
    later = time.time() + 60
    outcomes = await store.settle(
        [
            settled(leases[0].item.id, leases[0].token, "ack"),
            settled(leases[1].item.id, leases[1].token, "nack", retry_at=later, error="500"),
            settled(leases[2].item.id, leases[2].token, "bury", error="gave up"),
            settled(leases[3].item.id, leases[3].token, "release"),
        ]
    )
    assert outcomes == [None, None, None, None]
    assert await store.counts("q") == QueueCounts(ready=1, leased=0, delayed=1, dead=1)
    assert (await store.dead_letter("q", "evt_2")).last_error == "gave up"


async def test_a_settle_reports_each_lost_lease_and_carries_out_the_rest(store: Store) -> None:
    await store.enqueue("q", item(1))
    await store.enqueue("q", item(2))
    lost = (await store.claim_many("q", lease_s=SHORT, limit=1)).leases[0]
    await trio.sleep(SHORT + 0.2)
    leases = (await store.claim_many("q", lease_s=30, limit=2)).leases
    assert {lease.item.id for lease in leases} == {"evt_1", "evt_2"}
    outcomes = await store.settle(
        [
            settled(lost.item.id, lost.token, "ack"),
            settled("evt_2", leases[0].token, "ack"),
        ]
    )
    assert isinstance(outcomes[0], LeaseLost)
    assert outcomes[1] is None
    assert (await store.counts("q")).leased == 1  # evt_1, still held by the second claim


async def test_a_released_item_is_claimed_again_without_spending_an_attempt(
    store: Store,
) -> None:
    await store.enqueue("q", item(1))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.release(lease)
    again = await store.claim("q", lease_s=30)
    assert again is not None
    assert again.item.attempt == 1


async def test_a_release_waits_until_its_retry_time(store: Store) -> None:
    await store.enqueue("q", item(1))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.release(lease, retry_at=time.time() + 60)
    assert (await store.counts("q")).delayed == 1


async def test_releasing_a_lost_lease_is_refused(store: Store) -> None:
    await store.enqueue("q", item(1))
    lost = await store.claim("q", lease_s=SHORT)
    assert lost is not None
    await trio.sleep(SHORT + 0.2)
    assert await store.claim("q", lease_s=30) is not None
    with pytest.raises(LeaseLost):
        await store.release(lost)


async def test_expedite_makes_a_delayed_item_due_now(store: Store) -> None:
    await store.enqueue("q", item(1))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.nack(lease, "500", retry_at=time.time() + 3600)
    assert await store.expedite("q", "evt_1") is True
    again = await store.claim("q", lease_s=30)
    assert again is not None
    assert again.item.attempt == 2


async def test_expedite_leaves_a_leased_item_alone(store: Store) -> None:
    await store.enqueue("q", item(1))
    assert await store.claim("q", lease_s=30) is not None
    assert await store.expedite("q", "evt_1") is False


async def test_expedite_of_an_unknown_item_is_item_not_found(store: Store) -> None:
    with pytest.raises(ItemNotFound):
        await store.expedite("q", "evt_missing")


# -- order keys ---------------------------------------------------------------------


async def test_items_with_one_order_key_are_claimed_one_at_a_time_in_order(
    store: Store,
) -> None:
    for n in range(3):
        await store.enqueue("q", item(n, order_key="cus_1"))
    first = await store.claim_many("q", lease_s=30, limit=10)
    assert [lease.item.id for lease in first.leases] == ["evt_0"]
    assert (await store.claim_many("q", lease_s=30, limit=10)).leases == []
    await store.ack(first.leases[0])
    second = await store.claim_many("q", lease_s=30, limit=10)
    assert [lease.item.id for lease in second.leases] == ["evt_1"]


async def test_a_failing_item_holds_its_key_and_only_its_key(store: Store) -> None:
    await store.enqueue("q", item(1, order_key="cus_1"))
    await store.enqueue("q", item(2, order_key="cus_1"))
    await store.enqueue("q", item(3, order_key="cus_2"))
    await store.enqueue("q", item(4))
    claimed = await store.claim_many("q", lease_s=30, limit=10)
    assert [lease.item.id for lease in claimed.leases] == ["evt_1", "evt_3", "evt_4"]
    await store.nack(claimed.leases[0], "500", retry_at=0)
    again = await store.claim_many("q", lease_s=30, limit=10)
    assert [lease.item.id for lease in again.leases] == ["evt_1"]


async def test_burying_an_item_lets_the_next_of_its_key_go(store: Store) -> None:
    await store.enqueue("q", item(1, order_key="cus_1"))
    await store.enqueue("q", item(2, order_key="cus_1"))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.bury(lease, "gave up")
    following = await store.claim("q", lease_s=30)
    assert following is not None
    assert following.item.id == "evt_2"


async def test_counts_show_the_items_held_behind_their_key(store: Store) -> None:
    for n in range(3):
        await store.enqueue("q", item(n, order_key="cus_1"))
    assert await store.counts("q") == QueueCounts(ready=1, leased=0, delayed=0, dead=0, held=2)


async def test_a_replayed_dead_letter_goes_to_the_back_of_its_key_line(store: Store) -> None:
    await store.enqueue("q", item(1, order_key="cus_1"))
    await store.enqueue("q", item(2, order_key="cus_1"))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.bury(lease, "gave up")
    await store.replay("q", "evt_1")
    order = []
    for _ in range(2):
        taken = await store.claim_many("q", lease_s=30, limit=10)
        assert len(taken.leases) == 1
        order.append(taken.leases[0].item.id)
        await store.ack(taken.leases[0])
    assert order == ["evt_2", "evt_1"]


async def test_an_item_whose_key_line_is_empty_again_is_not_held(store: Store) -> None:
    await store.enqueue("q", item(1, order_key="cus_1"))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.ack(lease)
    await store.enqueue("q", item(2, order_key="cus_1"))
    assert await store.claim("q", lease_s=30) is not None
