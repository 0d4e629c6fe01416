"""The GET cache kept in the store, shared by replicas on Redis."""

from __future__ import annotations

from pathlib import Path

import trio

from olactors.clients import CachedResponse, StoreCache
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import RedisBackend, Store, store_spec
from olactors.testing import RedisServer


async def test_an_entry_put_by_one_replica_is_a_hit_for_another_until_it_expires(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path / "redis") as server:
        systems = []
        async with trio.open_nursery() as nursery:
            caches = []
            for _ in range(2):
                spec = SupervisorSpec(
                    "root", children=[store_spec(lambda role: RedisBackend(server.url, prefix="c"))]
                )
                system = ActorSystem(spec)
                await nursery.start(system.run)
                systems.append(system)
                caches.append(StoreCache(Store.at(system, "/root/store")))
            entry = CachedResponse(200, {"content-type": "application/json"}, b'{"sub":"1"}')
            await caches[0].put("k", entry, ttl_s=0.3)
            assert await caches[1].get("k") == entry
            await trio.sleep(0.4)
            assert await caches[1].get("k") is None
            for system in systems:
                system.shutdown()


async def test_a_store_that_is_down_is_a_miss_not_a_failure(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    async with trio.open_nursery() as nursery:
        spec = SupervisorSpec(
            "root", children=[store_spec(lambda role: RedisBackend(server.url, prefix="c"))]
        )
        system = ActorSystem(spec)
        await nursery.start(system.run)
        cache = StoreCache(Store.at(system, "/root/store"))
        await trio.to_thread.run_sync(server.kill)
        assert await cache.get("k") is None
        await cache.put("k", CachedResponse(200, {}, b""), ttl_s=10)
        system.shutdown()
