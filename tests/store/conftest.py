from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trio

from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import Backend, RedisBackend, SqliteBackend, Store, store_spec
from olactors.testing import RedisServer

MakeBackend = Callable[[str], Backend]
_prefixes = itertools.count()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def sqlite_backends(path: Path) -> MakeBackend:
    return lambda role: SqliteBackend(path, role=role)  # type: ignore[arg-type]


def redis_backends(url: str, prefix: str | None = None) -> MakeBackend:
    prefix = prefix or f"test{next(_prefixes)}"
    return lambda role: RedisBackend(url, prefix=prefix, connect_timeout_s=0.5, timeout_s=2)


@pytest.fixture(params=["sqlite", "redis"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> MakeBackend:
    if request.param == "sqlite":
        return sqlite_backends(tmp_path / "var" / "olactors.db")
    server: RedisServer = request.getfixturevalue("redis_server")
    return redis_backends(server.url)


async def open_store(
    nursery: trio.Nursery, backends: MakeBackend, **options: object
) -> tuple[ActorSystem, Store]:
    spec = SupervisorSpec("root", children=[store_spec(backends, **options)])  # type: ignore[arg-type]
    system = ActorSystem(spec)
    await nursery.start(system.run)
    return system, Store.at(system, "/root/store", timeout_s=5)


@pytest.fixture
async def store(backends: MakeBackend) -> AsyncIterator[Store]:
    async with trio.open_nursery() as nursery:
        system, store = await open_store(nursery, backends)
        yield store
        system.shutdown()
