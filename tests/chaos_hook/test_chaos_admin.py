"""``POST /chaos/crash`` on a real daemon's admin listener, over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from olactors.config import Config
from olactors.runtime import ActorNotFound, Status

from ..admin.daemon import TOKEN, Daemon, config, started


def with_chaos(tmp_path: Path, **chaos: Any) -> Config:
    return Config.model_validate({**config(tmp_path).model_dump(), "chaos": chaos})


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon with [chaos] on, whose crashes come only on request (crash_every_s = 0)."""
    async with started(with_chaos(tmp_path, enabled=True, crash_every_s=0)) as running:
        yield running


@pytest.fixture
async def plain_daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with started(config(tmp_path)) as running:
        yield running


async def crash(daemon: Daemon, body: Any, token: str = TOKEN) -> httpx.Response:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        return await client.post(
            "/chaos/crash", json=body, headers={"Authorization": f"Bearer {token}"}
        )


async def test_disabled_chaos_has_no_injector_and_no_route(plain_daemon: Daemon) -> None:
    with pytest.raises(ActorNotFound):
        plain_daemon.system.snapshot("/root/chaos")
    answer = await crash(plain_daemon, {"path": "/root/store/reader"})
    assert answer.status_code == 404
    assert plain_daemon.system.actor_snapshot("/root/store/reader").restarts_total == 0


async def test_enabled_chaos_puts_the_injector_last_under_the_root(daemon: Daemon) -> None:
    names = [child.name for child in daemon.system.tree().children]
    assert names[-1] == "chaos"
    assert daemon.system.actor_snapshot("/root/chaos").kind == "CrashInjector"


async def test_the_endpoint_crashes_the_named_actor_and_its_supervisor_restarts_it(
    daemon: Daemon,
) -> None:
    answer = await crash(daemon, {"path": "/root/store/reader"})
    assert answer.status_code == 200
    assert answer.json()["path"] == "/root/store/reader"
    assert answer.json()["trigger"] == "request"
    system = daemon.system
    with trio.fail_after(10):
        while (reader := system.actor_snapshot("/root/store/reader")).restarts_total == 0 or (
            reader.status != Status.RUNNING
        ):
            await trio.sleep(0.01)
    assert reader.last_error is not None
    assert reader.last_error.type == "InjectedCrash"
    assert system.actor_snapshot("/root/chaos").state["injected"] == 1


@pytest.mark.parametrize("path", ["/root/nobody", "/root/store"])
async def test_the_endpoint_answers_404_for_no_actor_at_that_path(
    daemon: Daemon, path: str
) -> None:
    answer = await crash(daemon, {"path": path})
    assert answer.status_code == 404
    assert path in answer.json()["error"]


@pytest.mark.parametrize("body", [None, [], {}, {"path": 3}, {"path": "root/store/reader"}])
async def test_the_endpoint_answers_400_for_a_body_without_an_actor_path(
    daemon: Daemon, body: Any
) -> None:
    answer = await crash(daemon, body)
    assert answer.status_code == 400
    assert "path" in answer.json()["error"]


@pytest.mark.parametrize("path", ["/root/http/admin", "/root/chaos"])
async def test_the_endpoint_refuses_to_crash_the_admin_listener_or_the_injector(
    daemon: Daemon, path: str
) -> None:
    answer = await crash(daemon, {"path": path})
    assert answer.status_code == 409
    assert daemon.system.actor_snapshot(path).restarts_total == 0


async def test_the_endpoint_needs_the_admin_token(daemon: Daemon) -> None:
    answer = await crash(daemon, {"path": "/root/store/reader"}, token="wrong")
    assert answer.status_code == 401
    assert daemon.system.actor_snapshot("/root/store/reader").restarts_total == 0
