"""What only the Redis backend promises: survive restarts, act as one state for many replicas."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import trio

from olactors.store import InvalidStoreCall, NewItem, Store, StoreUnavailable
from olactors.testing import RedisServer

from .conftest import open_store, redis_backends, sqlite_backends

T = TypeVar("T")


async def eventually(call: Callable[[], Awaitable[T]], within_s: float = 20.0) -> T:
    """Retry ``call`` while the store is unavailable (a liveness bound, not a speed check)."""
    with trio.fail_after(within_s):
        while True:
            try:
                return await call()
            except StoreUnavailable:
                await trio.sleep(0.1)


async def test_calls_fail_while_redis_is_down_and_resume_after_with_nothing_lost(
    redis_server: RedisServer,
) -> None:
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, redis_backends(redis_server.url))
        acknowledged = [(await store.enqueue("q", NewItem(payload=b"x"))).id for _ in range(20)]

        await trio.to_thread.run_sync(redis_server.stop)
        with pytest.raises(StoreUnavailable):
            await store.enqueue("q", NewItem(payload=b"while down"))
        with pytest.raises(StoreUnavailable):
            await store.counts("q")
        assert system.actor_snapshot("/root/store/writer").state["available"] is False

        await trio.to_thread.run_sync(redis_server.start)
        after = await eventually(lambda: store.enqueue("q", NewItem(payload=b"after")))
        acknowledged.append(after.id)
        claimed = set()
        while (lease := await store.claim("q", lease_s=60)) is not None:
            claimed.add(lease.item.id)
        system.shutdown()
    assert set(acknowledged) <= claimed


async def test_two_replicas_never_claim_the_same_item(redis_server: RedisServer) -> None:
    backends = redis_backends(redis_server.url, "shared")
    claimed: list[str] = []
    async with trio.open_nursery() as nursery:
        first, store_a = await open_store(nursery, backends)
        second, store_b = await open_store(nursery, backends)
        for n in range(200):
            await store_a.enqueue("q", NewItem(payload=str(n).encode()))

        async def worker(store: Store) -> None:
            while (lease := await store.claim("q", lease_s=60)) is not None:
                claimed.append(lease.item.id)
                await store.ack(lease)

        async with trio.open_nursery() as workers:
            for store in (store_a, store_b) * 8:
                workers.start_soon(worker, store)
        first.shutdown()
        second.shutdown()
    assert len(claimed) == 200
    assert len(set(claimed)) == 200


async def test_two_replicas_agree_on_which_event_is_first_seen(redis_server: RedisServer) -> None:
    backends = redis_backends(redis_server.url, "shared")
    wins: dict[str, int] = {}
    async with trio.open_nursery() as nursery:
        first, store_a = await open_store(nursery, backends)
        second, store_b = await open_store(nursery, backends)

        async def deliver(store: Store, key: str) -> None:
            if await store.claim_key(key, ttl_s=60):
                wins[key] = wins.get(key, 0) + 1

        async with trio.open_nursery() as deliveries:
            for n in range(100):
                for store in (store_a, store_b):
                    deliveries.start_soon(deliver, store, f"evt_{n}")
        first.shutdown()
        second.shutdown()
    assert wins == {f"evt_{n}": 1 for n in range(100)}


async def test_scripts_lost_by_redis_are_loaded_again_without_a_failed_call(
    redis_server: RedisServer,
) -> None:
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, redis_backends(redis_server.url))
        await store.enqueue("q", NewItem(payload=b"before"))
        client = redis.Redis.from_url(redis_server.url)
        client.script_flush()
        client.close()
        await store.enqueue("q", NewItem(payload=b"after"))
        assert (await store.counts("q")).ready == 2
        system.shutdown()


async def test_a_topic_keeps_its_last_frames_with_growing_offsets(
    redis_server: RedisServer,
) -> None:
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, redis_backends(redis_server.url))
        offsets = [
            await store.topic_publish("user:42", b'{"n":%d}' % n, size=3, ttl_s=60)
            for n in range(5)
        ]
        log = await store.topic_history("user:42")
        system.shutdown()
    assert [b - a for a, b in itertools.pairwise(offsets)] == [1, 1, 1, 1]
    assert offsets[0] > 1_700_000_000_000_000  # from the time of day, in µs
    assert log.last == offsets[-1]
    assert [offset for offset, _, _ in log.frames] == offsets[2:]
    assert log.frames[-1][2] == (
        b'{"type":"message","topic":"user:42","offset":%d,"data":{"n":4}}' % offsets[-1]
    )


async def test_a_topic_frame_is_published_to_every_replica(redis_server: RedisServer) -> None:
    listener = redis.Redis.from_url(redis_server.url)
    pubsub = listener.pubsub()  # type: ignore[no-untyped-call]
    backends = redis_backends(redis_server.url, "topics")
    pubsub.subscribe("topics:topics")
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, backends)
        offset = await store.topic_publish("room:1", b'{"hi":true}', size=0, ttl_s=60)
        system.shutdown()
    heard = [m for m in iter(lambda: pubsub.get_message(timeout=2), None) if m["type"] == "message"]
    pubsub.close()
    assert heard[0][
        "data"
    ] == b'room:1 %d {"type":"message","topic":"room:1","offset":%d,"data":{"hi":true}}' % (
        offset,
        offset,
    )


async def test_topics_are_refused_by_the_sqlite_store(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, sqlite_backends(tmp_path / "o.db"))
        with pytest.raises(InvalidStoreCall):
            await store.topic_history("user:1")
        system.shutdown()
