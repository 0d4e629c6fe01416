"""The event log: publish, settle with attempts, list and read back. Both backends."""

from __future__ import annotations

import time

import pytest
import trio

from olactors.store import (
    DEAD,
    DELIVERED,
    DROPPED,
    PENDING,
    UNROUTED,
    Attempt,
    Delivery,
    ItemNotFound,
    Lease,
    Settlement,
    Store,
)

NS = "webhooks.stripe"
TO_APP = Delivery("app", "d:webhooks.stripe:app")
TO_CRM = Delivery("crm", "d:webhooks.stripe:crm")


async def publish(store: Store, n: int, *deliveries: Delivery, **options: object) -> bool:
    result = await store.publish(
        NS,
        f"evt_{n}",
        options.pop("event_type", "charge.succeeded"),  # type: ignore[arg-type]
        f'{{"n": {n}}}'.encode(),
        list(deliveries),
        **options,  # type: ignore[arg-type]
    )
    return not result.duplicate


async def take(store: Store, delivery: Delivery) -> Lease:
    lease = await store.claim(delivery.queue, lease_s=30)
    assert lease is not None
    return lease


def attempt(destination: str, outcome: str, **fields: object) -> Attempt:
    return Attempt(
        at=time.time(), destination=destination, outcome=outcome, latency_ms=3.5, **fields
    )  # type: ignore[arg-type]


def settlement(lease: Lease, action: str, destination: str, **fields: object) -> Settlement:
    return Settlement(
        lease.item.queue,
        lease.item.id,
        lease.token,
        action,  # type: ignore[arg-type]
        namespace=NS,
        destination=destination,
        **fields,  # type: ignore[arg-type]
    )


async def test_a_published_event_waits_in_each_destination_queue(store: Store) -> None:
    assert await publish(store, 1, TO_APP, TO_CRM, meta={"account": "acct_1"})
    for delivery in (TO_APP, TO_CRM):
        lease = await take(store, delivery)
        assert (lease.item.id, lease.item.payload, lease.item.source) == (
            "evt_1",
            b'{"n": 1}',
            NS,
        )
        assert lease.item.meta == {"account": "acct_1", "type": "charge.succeeded"}


async def test_a_published_event_is_logged_pending_for_each_destination(store: Store) -> None:
    await publish(store, 1, TO_APP, TO_CRM, meta={"account": "acct_1"})
    record = await store.event(NS, "evt_1")
    assert (record.type, record.status, record.payload) == (
        "charge.succeeded",
        PENDING,
        b'{"n": 1}',
    )
    assert record.destinations == {"app": PENDING, "crm": PENDING}
    assert record.meta == {"account": "acct_1"}
    assert record.attempts == []
    assert record.received_at == pytest.approx(time.time(), abs=5)


async def test_publishing_with_a_live_dedup_key_stores_nothing(store: Store) -> None:
    assert await publish(store, 1, TO_APP, dedup_key="stripe:evt_1", dedup_ttl_s=60)
    assert not await publish(store, 2, TO_APP, dedup_key="stripe:evt_1", dedup_ttl_s=60)
    with pytest.raises(ItemNotFound):
        await store.event(NS, "evt_2")
    assert (await store.counts(TO_APP.queue)).ready == 1


async def test_publishing_an_event_id_twice_stores_it_once(store: Store) -> None:
    assert await publish(store, 1, TO_APP)
    assert not await publish(store, 1, TO_APP)
    assert (await store.counts(TO_APP.queue)).ready == 1


async def test_settling_records_each_attempt_and_the_destination_state(store: Store) -> None:
    await publish(store, 1, TO_APP)
    lease = await take(store, TO_APP)
    failed = attempt("app", "http_error", status=500, response=b"oops")
    await store.settle([settlement(lease, "nack", "app", error="500", attempt=failed)])
    record = await store.event(NS, "evt_1")
    assert (record.status, record.destinations) == (PENDING, {"app": PENDING})
    lease = await take(store, TO_APP)
    landed = attempt("app", "delivered", status=200)
    await store.settle([settlement(lease, "ack", "app", attempt=landed)])
    record = await store.event(NS, "evt_1")
    assert (record.status, record.destinations) == (DELIVERED, {"app": DELIVERED})
    assert record.attempts == [failed, landed]


async def test_an_event_is_pending_until_every_destination_is_done(store: Store) -> None:
    await publish(store, 1, TO_APP, TO_CRM)
    app = await take(store, TO_APP)
    await store.settle([settlement(app, "ack", "app")])
    assert (await store.event(NS, "evt_1")).status == PENDING
    crm = await take(store, TO_CRM)
    await store.settle([settlement(crm, "bury", "crm", error="410 Gone")])
    record = await store.event(NS, "evt_1")
    assert (record.status, record.destinations) == (DEAD, {"app": DELIVERED, "crm": DEAD})


async def test_a_settle_whose_lease_was_lost_records_nothing(store: Store) -> None:
    await publish(store, 1, TO_APP)
    lost = await store.claim(TO_APP.queue, lease_s=0.2)
    assert lost is not None
    await trio.sleep(0.4)
    await take(store, TO_APP)
    [outcome] = await store.settle(
        [settlement(lost, "ack", "app", attempt=attempt("app", "delivered"))]
    )
    assert outcome is not None
    record = await store.event(NS, "evt_1")
    assert (record.status, record.attempts) == (PENDING, [])


async def test_an_event_published_nowhere_keeps_the_status_it_was_given(store: Store) -> None:
    await publish(store, 1)
    await publish(store, 2, empty_status=DROPPED)
    assert (await store.event(NS, "evt_1")).status == UNROUTED
    assert (await store.event(NS, "evt_2")).status == DROPPED


async def test_events_are_listed_newest_first_page_by_page(store: Store) -> None:
    for n in range(5):
        await publish(store, n, TO_APP)
    first = await store.events(NS, limit=2)
    second = await store.events(NS, limit=2, cursor=first.next_cursor)
    third = await store.events(NS, limit=2, cursor=second.next_cursor)
    listed = [e.id for e in first.items + second.items + third.items]
    assert listed == [f"evt_{n}" for n in (4, 3, 2, 1, 0)]
    assert third.next_cursor is None
    assert first.items[0].destinations == {"app": PENDING}


async def test_events_are_filtered_by_type_status_and_destination(store: Store) -> None:
    await publish(store, 1, TO_APP, TO_CRM, event_type="charge.succeeded")
    await publish(store, 2, TO_APP, event_type="charge.refunded")
    await publish(store, 3, TO_CRM, event_type="charge.succeeded")
    crm = await take(store, TO_CRM)  # evt_1's delivery to crm
    await store.settle([settlement(crm, "ack", "crm")])

    async def ids(**filters: str) -> list[str]:
        return [e.id for e in (await store.events(NS, limit=10, **filters)).items]  # type: ignore[arg-type]

    assert await ids(event_type="charge.succeeded") == ["evt_3", "evt_1"]
    assert await ids(destination="app") == ["evt_2", "evt_1"]
    assert await ids(destination="crm", status=DELIVERED) == ["evt_1"]
    assert await ids(status=PENDING) == ["evt_3", "evt_2", "evt_1"]
    assert await ids(status=DELIVERED) == []


async def test_namespaces_keep_their_events_apart(store: Store) -> None:
    await publish(store, 1, TO_APP)
    await store.publish("broadcast", "evt_1", "user.created", b"{}", [])
    assert [e.id for e in (await store.events("broadcast")).items] == ["evt_1"]
    assert (await store.event(NS, "evt_1")).type == "charge.succeeded"
    assert (await store.event("broadcast", "evt_1")).type == "user.created"


async def test_a_settled_event_is_gone_after_its_retention(store: Store) -> None:
    await publish(store, 1, retention_s=0.3)
    await trio.sleep(0.5)
    with pytest.raises(ItemNotFound):
        await store.event(NS, "evt_1")
    assert (await store.events(NS)).items == []


async def test_a_pending_event_outlives_its_retention(store: Store) -> None:
    await publish(store, 1, TO_APP, retention_s=0.3)
    await trio.sleep(0.5)
    assert (await store.event(NS, "evt_1")).status == PENDING
    lease = await take(store, TO_APP)
    await store.settle([settlement(lease, "ack", "app")])
    # Kept for the retention after its last settle.
    assert (await store.event(NS, "evt_1")).status == DELIVERED
    await trio.sleep(0.5)
    with pytest.raises(ItemNotFound):
        await store.event(NS, "evt_1")


async def test_an_unrouted_event_is_sent_to_a_route_added_later(store: Store) -> None:
    await publish(store, 1, meta={"account": "acct_1"})
    record = await store.event(NS, "evt_1")
    assert await store.add_deliveries(record, [TO_APP]) == ["app"]
    assert (await store.event(NS, "evt_1")).destinations == {"app": PENDING}
    lease = await take(store, TO_APP)
    assert (lease.item.payload, lease.item.meta) == (
        b'{"n": 1}',
        {"account": "acct_1", "type": "charge.succeeded"},
    )


async def test_adding_a_destination_the_event_already_has_adds_nothing(store: Store) -> None:
    await publish(store, 1, TO_APP)
    record = await store.event(NS, "evt_1")
    assert await store.add_deliveries(record, [TO_APP, TO_CRM]) == ["crm"]
    assert (await store.counts(TO_APP.queue)).ready == 1
    assert (await store.counts(TO_CRM.queue)).ready == 1


async def test_adding_deliveries_to_an_event_no_longer_kept_is_item_not_found(
    store: Store,
) -> None:
    await publish(store, 1, retention_s=0.2)
    record = await store.event(NS, "evt_1")
    await trio.sleep(0.4)
    with pytest.raises(ItemNotFound):
        await store.add_deliveries(record, [TO_APP])


def own_item(destination: str, n: int, queue: str = TO_APP.queue) -> Delivery:
    return Delivery(destination, queue, item_id=f"evt_1.{n}", meta={"target": str(n)})


async def test_deliveries_with_their_own_item_ids_share_one_queue(store: Store) -> None:
    assert await publish(store, 1, own_item("t0", 0), own_item("t1", 1), meta={"a": "b"})
    first, second = await take(store, TO_APP), await take(store, TO_APP)
    assert {first.item.id, second.item.id} == {"evt_1.0", "evt_1.1"}
    by_id = {lease.item.id: lease.item.meta for lease in (first, second)}
    assert by_id["evt_1.1"] == {
        "a": "b",
        "type": "charge.succeeded",
        "target": "1",
        "log.event": "evt_1",
        "log.destination": "t1",
    }


async def test_settling_an_item_with_its_own_id_records_its_event_destination(
    store: Store,
) -> None:
    await publish(store, 1, own_item("t0", 0), own_item("t1", 1))
    lease = await take(store, TO_APP)
    target = lease.item.meta["log.destination"]
    landed = attempt(target, "delivered", status=200)
    await store.settle([settlement(lease, "ack", target, event="evt_1", attempt=landed)])
    record = await store.event(NS, "evt_1")
    assert record.destinations[target] == DELIVERED
    assert record.attempts == [landed]
    assert (await store.counts(TO_APP.queue)).ready == 1


async def test_deliveries_added_later_keep_their_own_item_ids(store: Store) -> None:
    await publish(store, 1)
    record = await store.event(NS, "evt_1")
    assert await store.add_deliveries(record, [own_item("t0", 0), own_item("t1", 1)]) == [
        "t0",
        "t1",
    ]
    first, second = await take(store, TO_APP), await take(store, TO_APP)
    assert {first.item.id, second.item.id} == {"evt_1.0", "evt_1.1"}
    assert first.item.meta["log.event"] == "evt_1"
