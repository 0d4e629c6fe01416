"""A whole daemon tree with its admin listener on a free loopback port, for admin tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from olactors.config import Config
from olactors.runtime import ActorSystem
from olactors.store import NewItem, Store
from olactors.tree import build_tree

TOKEN = "admin-token-0123456789abcdef"


@dataclass
class Daemon:
    system: ActorSystem
    url: str


@asynccontextmanager
async def started(config: Config) -> AsyncIterator[Daemon]:
    """The whole tree of ``config`` running, until the block ends."""
    system = ActorSystem(build_tree(config, {"ADMIN_TOKEN": TOKEN}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        yield Daemon(system, url)
        system.shutdown()


def config(tmp_path: Path, **admin: object) -> Config:
    return Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0", "token_env": "ADMIN_TOKEN", **admin},
            "api": {"bind": "127.0.0.1:0"},
        }
    )


async def dead_letter(daemon: Daemon, payload: bytes = b'{"id":"evt_dead"}') -> str:
    store = Store.at(daemon.system, "/root/store")
    await store.enqueue("stripe", NewItem(payload=payload, id="evt_dead"))
    lease = await store.claim("stripe", lease_s=30)
    assert lease is not None
    await store.bury(lease, "app answered 500")
    return lease.item.id
