"""Two replicas on one redis-server refresh a due token once between them."""

from __future__ import annotations

from pathlib import Path

import trio

from olactors.testing import RedisServer

from .support import authorization_server, run_daemon


async def test_two_replicas_refresh_a_due_token_once_between_them(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis_server:
        store = {"backend": "redis", "redis_url": redis_server.url, "redis_prefix": "shop"}
        async with (
            authorization_server() as auth,
            run_daemon(tmp_path / "a", auth, store=store) as a,
            run_daemon(tmp_path / "b", auth, store=store) as b,
        ):
            auth.expires_in = 1
            await a.connect(auth)
            await trio.sleep(0.6)
            tokens: set[str] = set()

            async def ask(replica: object) -> None:
                answer = await replica.call("GET", "/v1/connections/google/42")  # type: ignore[attr-defined]
                tokens.add(answer.json()["access_token"])

            async with trio.open_nursery() as nursery:
                for n in range(100):
                    nursery.start_soon(ask, a if n % 2 else b)
    assert auth.refreshes == 1
    assert tokens == {auth.issued[-1]}
