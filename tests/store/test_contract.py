"""The store contract, run against both backends (sqlite and a real redis-server)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
import trio

from olactors.store import (
    InvalidStoreCall,
    ItemNotFound,
    LeaseLost,
    LockBusy,
    NewItem,
    QueueCounts,
    Store,
)

SHORT = 0.3  # seconds: TTLs and leases that tests wait out


def item(n: int = 0, **fields: object) -> NewItem:
    return NewItem(payload=f"event-{n}".encode(), **fields)  # type: ignore[arg-type]


# -- dedup ------------------------------------------------------------------------


async def test_the_first_claim_of_a_key_is_first_seen_and_the_next_a_duplicate(
    store: Store,
) -> None:
    assert await store.claim_key("evt_1", ttl_s=60) is True
    assert await store.claim_key("evt_1", ttl_s=60) is False
    assert await store.claim_key("evt_2", ttl_s=60) is True


async def test_a_key_is_first_seen_again_once_its_ttl_has_passed(store: Store) -> None:
    assert await store.claim_key("evt_1", ttl_s=SHORT) is True
    await trio.sleep(SHORT + 0.2)
    assert await store.claim_key("evt_1", ttl_s=SHORT) is True


async def test_concurrent_claims_of_one_key_have_exactly_one_winner(store: Store) -> None:
    answers: list[bool] = []
    async with trio.open_nursery() as nursery:
        for _ in range(50):

            async def claim() -> None:
                answers.append(await store.claim_key("evt_race", ttl_s=60))

            nursery.start_soon(claim)
    assert answers.count(True) == 1


# -- queues -----------------------------------------------------------------------


async def test_an_enqueued_item_is_claimed_with_everything_it_carried(store: Store) -> None:
    sent = NewItem(payload=b"\x00raw\xff", source="stripe", meta={"type": "charge.refunded"})
    result = await store.enqueue("stripe", sent)
    assert result.duplicate is False
    lease = await store.claim("stripe", lease_s=30)
    assert lease is not None
    got = lease.item
    assert (got.id, got.queue, got.payload, got.source) == (
        sent.id,
        "stripe",
        b"\x00raw\xff",
        "stripe",
    )
    assert got.meta == {"type": "charge.refunded"}
    assert (got.attempt, got.last_error) == (1, None)
    assert got.enqueued_at == pytest.approx(time.time(), abs=5)
    assert lease.expires_at == pytest.approx(time.time() + 30, abs=5)


async def test_claiming_an_empty_queue_returns_none(store: Store) -> None:
    assert await store.claim("nothing", lease_s=30) is None


async def test_items_are_claimed_in_the_order_they_were_enqueued(store: Store) -> None:
    for n in range(5):
        await store.enqueue("q", item(n))
    claimed = []
    for _ in range(5):
        lease = await store.claim("q", lease_s=30)
        assert lease is not None
        claimed.append(lease.item.payload)
    assert claimed == [f"event-{n}".encode() for n in range(5)]


async def test_queues_are_separate(store: Store) -> None:
    await store.enqueue("a", item(1))
    assert await store.claim("b", lease_s=30) is None
    assert await store.claim("a", lease_s=30) is not None


async def test_enqueueing_the_same_id_twice_stores_one_item(store: Store) -> None:
    first = item(1)
    assert (await store.enqueue("q", first)).duplicate is False
    assert (await store.enqueue("q", first)).duplicate is True
    assert (await store.counts("q")).ready == 1


async def test_enqueue_with_a_dedup_key_stores_the_first_only(store: Store) -> None:
    first = await store.enqueue("q", item(1), dedup_key="stripe:evt_1", dedup_ttl_s=60)
    second = await store.enqueue("q", item(2), dedup_key="stripe:evt_1", dedup_ttl_s=60)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert (await store.counts("q")).ready == 1
    # The key is the same one claim_key sees.
    assert await store.claim_key("stripe:evt_1", ttl_s=60) is False


async def test_an_item_is_not_claimable_before_its_not_before_time(store: Store) -> None:
    await store.enqueue("q", item(1, not_before=time.time() + SHORT))
    assert await store.claim("q", lease_s=30) is None
    assert (await store.counts("q")).delayed == 1
    await trio.sleep(SHORT + 0.2)
    assert await store.claim("q", lease_s=30) is not None


async def test_ack_removes_the_item(store: Store) -> None:
    await store.enqueue("q", item(1))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.ack(lease)
    assert await store.counts("q") == QueueCounts(ready=0, leased=0, delayed=0, dead=0)
    assert await store.claim("q", lease_s=30) is None


async def test_a_nacked_item_comes_back_at_its_retry_time_with_its_error(store: Store) -> None:
    await store.enqueue("q", item(1))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.nack(lease, "app answered 500", retry_at=time.time() + SHORT)
    assert await store.claim("q", lease_s=30) is None
    await trio.sleep(SHORT + 0.2)
    again = await store.claim("q", lease_s=30)
    assert again is not None
    assert (again.item.attempt, again.item.last_error) == (2, "app answered 500")


async def test_an_expired_lease_makes_the_item_claimable_again(store: Store) -> None:
    await store.enqueue("q", item(1))
    lost = await store.claim("q", lease_s=SHORT)
    assert lost is not None
    assert await store.claim("q", lease_s=30) is None
    await trio.sleep(SHORT + 0.2)
    assert (await store.counts("q")).ready == 1
    taken = await store.claim("q", lease_s=30)
    assert taken is not None
    assert (taken.item.id, taken.item.attempt) == (lost.item.id, 2)
    with pytest.raises(LeaseLost):
        await store.ack(lost)
    await store.ack(taken)


async def test_a_nack_with_a_lost_lease_is_refused(store: Store) -> None:
    await store.enqueue("q", item(1))
    lost = await store.claim("q", lease_s=SHORT)
    assert lost is not None
    await trio.sleep(SHORT + 0.2)
    assert await store.claim("q", lease_s=30) is not None
    with pytest.raises(LeaseLost):
        await store.nack(lost, "late", retry_at=0)
    with pytest.raises(LeaseLost):
        await store.bury(lost, "late")


async def test_counts_report_each_state(store: Store) -> None:
    for n in range(4):
        await store.enqueue("q", item(n))
    await store.enqueue("q", item(9, not_before=time.time() + 60))
    leased = await store.claim("q", lease_s=60)
    buried = await store.claim("q", lease_s=60)
    assert leased is not None
    assert buried is not None
    await store.bury(buried, "gave up")
    assert await store.counts("q") == QueueCounts(ready=2, leased=1, delayed=1, dead=1)
    assert await store.queues() == ["q"]


# -- dead letters --------------------------------------------------------------------


async def bury_one(store: Store, n: int, error: str = "app answered 500") -> str:
    await store.enqueue("q", item(n))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.bury(lease, error)
    return lease.item.id


async def test_a_buried_item_is_a_dead_letter_with_its_last_error(store: Store) -> None:
    item_id = await bury_one(store, 1, "410 Gone")
    dead = await store.dead_letter("q", item_id)
    assert (dead.id, dead.payload, dead.attempts, dead.last_error) == (
        item_id,
        b"event-1",
        1,
        "410 Gone",
    )
    assert dead.dead_at == pytest.approx(time.time(), abs=5)
    assert await store.claim("q", lease_s=30) is None


async def test_dead_letters_are_listed_oldest_first_page_by_page(store: Store) -> None:
    ids = [await bury_one(store, n) for n in range(5)]
    first = await store.dead_letters("q", limit=2)
    second = await store.dead_letters("q", limit=2, cursor=first.next_cursor)
    third = await store.dead_letters("q", limit=2, cursor=second.next_cursor)
    assert [d.id for d in first.items + second.items + third.items] == ids
    assert third.next_cursor is None


async def test_a_replayed_dead_letter_is_claimable_with_fresh_attempts(store: Store) -> None:
    item_id = await bury_one(store, 1)
    await store.replay("q", item_id)
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    assert (lease.item.id, lease.item.attempt) == (item_id, 1)
    with pytest.raises(ItemNotFound):
        await store.dead_letter("q", item_id)


async def test_replay_all_moves_every_dead_letter_back(store: Store) -> None:
    for n in range(3):
        await bury_one(store, n)
    assert await store.replay_all("q") == 3
    assert (await store.counts("q")).ready == 3


async def test_a_deleted_dead_letter_is_gone(store: Store) -> None:
    item_id = await bury_one(store, 1)
    await store.delete_dead_letter("q", item_id)
    with pytest.raises(ItemNotFound):
        await store.dead_letter("q", item_id)
    with pytest.raises(ItemNotFound):
        await store.replay("q", item_id)
    with pytest.raises(ItemNotFound):
        await store.delete_dead_letter("q", item_id)


# -- key-value ---------------------------------------------------------------------------


async def test_a_value_put_is_got_back_until_deleted(store: Store) -> None:
    assert await store.get("cursor:instagram") is None
    await store.put("cursor:instagram", b"QVFIUm")
    assert await store.get("cursor:instagram") == b"QVFIUm"
    await store.put("cursor:instagram", b"next")
    assert await store.get("cursor:instagram") == b"next"
    assert await store.delete("cursor:instagram") is True
    assert await store.delete("cursor:instagram") is False
    assert await store.get("cursor:instagram") is None


async def test_a_value_expires_after_its_ttl(store: Store) -> None:
    await store.put("cache:me", b"{}", ttl_s=SHORT)
    assert await store.get("cache:me") == b"{}"
    await trio.sleep(SHORT + 0.2)
    assert await store.get("cache:me") is None


async def test_a_value_put_if_absent_is_a_lock_until_deleted(store: Store) -> None:
    assert await store.put_if_absent("lock:k", b"a", ttl_s=60) is True
    assert await store.put_if_absent("lock:k", b"b", ttl_s=60) is False
    assert await store.get("lock:k") == b"a"
    await store.delete("lock:k")
    assert await store.put_if_absent("lock:k", b"c", ttl_s=60) is True


async def test_a_lock_whose_holder_died_is_free_after_its_ttl(store: Store) -> None:
    assert await store.put_if_absent("lock:dead", b"a", ttl_s=SHORT) is True
    await trio.sleep(SHORT + 0.2)
    assert await store.put_if_absent("lock:dead", b"b", ttl_s=60) is True
    assert await store.get("lock:dead") == b"b"


async def test_a_lock_is_released_only_by_the_value_that_holds_it(store: Store) -> None:
    assert await store.put_if_absent("lock:owned", b"mine", ttl_s=60) is True
    assert await store.delete("lock:owned", if_value=b"theirs") is False
    assert await store.get("lock:owned") == b"mine"
    assert await store.delete("lock:owned", if_value=b"mine") is True
    assert await store.get("lock:owned") is None


# -- edges both backends must agree on ---------------------------------------------------


async def test_one_id_in_two_queues_is_two_items(store: Store) -> None:
    event = NewItem(payload=b"evt", id="evt_1")
    assert (await store.enqueue("billing", event)).duplicate is False
    assert (await store.enqueue("audit", event)).duplicate is False
    assert await store.claim("billing", lease_s=30) is not None
    assert await store.claim("audit", lease_s=30) is not None


async def test_an_expired_lease_still_holds_until_someone_claims_the_item(store: Store) -> None:
    await store.enqueue("q", item(1))
    await store.enqueue("q", item(2))
    late = await store.claim("q", lease_s=SHORT)
    assert late is not None
    await trio.sleep(SHORT + 0.2)
    other = await store.claim("q", lease_s=30)  # reclaims nothing of late's: takes the other
    assert other is not None
    assert other.item.id != late.item.id
    await store.ack(late)  # nobody claimed it meanwhile: the late holder may still finish
    await store.ack(other)
    assert await store.counts("q") == QueueCounts(ready=0, leased=0, delayed=0, dead=0)


async def test_a_queue_with_no_items_left_is_not_listed(store: Store) -> None:
    await store.enqueue("q", item(1))
    lease = await store.claim("q", lease_s=30)
    assert lease is not None
    await store.ack(lease)
    assert await store.queues() == []


async def test_a_key_with_a_sub_millisecond_ttl_is_still_claimed(store: Store) -> None:
    assert await store.claim_key("evt_fast", ttl_s=0.0005) is True


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.claim_key("", ttl_s=60),
        lambda s: s.claim_key("k", ttl_s=0),
        lambda s: s.claim_key("k", ttl_s=float("nan")),
        lambda s: s.enqueue("q", item(1), dedup_key="", dedup_ttl_s=60),
        lambda s: s.enqueue("q{x}", item(1)),
        lambda s: s.enqueue("q", item(1, not_before=float("inf"))),
        lambda s: s.claim("q", lease_s=0),
        lambda s: s.dead_letters("q", limit=0),
        lambda s: s.replay_all("q", limit=0),
        lambda s: s.put("k", b"v", ttl_s=-1),
    ],
)
async def test_out_of_range_arguments_are_refused_before_reaching_the_backend(
    store: Store, call: Callable[[Store], Awaitable[object]]
) -> None:
    with pytest.raises(InvalidStoreCall):
        await call(store)
    assert await store.queues() == []


# -- shared rate budgets ---------------------------------------------------------------


async def test_a_budget_spaces_slots_by_its_rate_after_the_burst(store: Store) -> None:
    slots = [await store.reserve("stripe", interval_s=0.1, tolerance_s=0.1) for _ in range(4)]
    delays = [delay for _, delay in slots]
    assert delays[:2] == [0, 0]
    assert delays[2] == pytest.approx(0.1, abs=0.03)
    assert delays[3] == pytest.approx(0.2, abs=0.03)


async def test_a_budget_refuses_without_taking_when_asked_not_to_wait(store: Store) -> None:
    once = {"interval_s": 1.0, "tolerance_s": 0.0, "wait": False}
    assert await store.reserve("stripe", **once) == (True, 0.0)  # type: ignore[arg-type]
    granted, retry = await store.reserve("stripe", **once)  # type: ignore[arg-type]
    assert granted is False
    assert retry == pytest.approx(1.0, abs=0.05)


async def test_a_hold_delays_every_slot_of_the_budget(store: Store) -> None:
    await store.hold("instagram", 5)
    granted, delay = await store.reserve("instagram", interval_s=0.01, tolerance_s=0.09)
    assert granted is True
    assert delay == pytest.approx(5, abs=0.1)


async def test_keys_are_listed_by_prefix_a_page_at_a_time(store: Store) -> None:
    for n in range(7):
        await store.put(f"oauth:conn:google:{n}", b"x")
    await store.put("oauth:state:abc", b"x")
    await store.put("oauth:conn:google:gone", b"x", ttl_s=SHORT)
    await trio.sleep(SHORT + 0.2)
    seen: list[str] = []
    cursor = ""
    while True:
        page = await store.keys("oauth:conn:", cursor=cursor, limit=3)
        seen += page.keys
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(set(seen)) == [f"oauth:conn:google:{n}" for n in range(7)]


async def test_a_prefix_with_glob_characters_matches_only_itself(store: Store) -> None:
    await store.put("a*b:1", b"x")
    await store.put("axb:1", b"x")
    assert (await store.keys("a*b:")).keys == ["a*b:1"]


async def test_a_held_lock_makes_another_holder_wait_then_give_up(store: Store) -> None:
    async with store.lock("lock:shared", ttl_s=60, wait_s=1):
        with pytest.raises(LockBusy):
            async with store.lock("lock:shared", ttl_s=60, wait_s=0.1):
                pass
    async with store.lock("lock:shared", ttl_s=60, wait_s=0.1):
        assert await store.get("lock:shared") is not None
    assert await store.get("lock:shared") is None
