"""The admin against other sites and other hosts: origins, Host, sessions, headers, its token."""

from __future__ import annotations

import logging
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from olactors.admin import Sessions, generated_token
from olactors.admin.commands import run_command
from olactors.cli import _parser
from olactors.config import Config, ConfigError
from olactors.http import is_loopback
from olactors.runtime import ActorSystem
from olactors.store import STORE_PATH, Store
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config

RESTART = "/actors/root/store/writer/restart"


@asynccontextmanager
async def logged_in(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        assert (await client.post("/session", json={"token": TOKEN})).status_code == 200
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another port of loopback: another site
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_state_changing_request_from_another_origin_is_refused(
    daemon: Daemon, headers: dict[str, str]
) -> None:
    async with logged_in(daemon) as client:
        answer = await client.post(RESTART, headers=headers)
    assert answer.status_code == 403
    assert daemon.system.snapshot("/root/store/writer").restarts_total == 0


async def test_a_page_served_over_https_by_a_proxy_in_front_counts_as_the_admins_own(
    daemon: Daemon,
) -> None:
    host = httpx.URL(daemon.url).netloc.decode()
    async with logged_in(daemon) as client:
        answer = await client.post(RESTART, headers={"Origin": f"https://{host}"})
    assert answer.status_code == 200


async def test_a_state_changing_request_from_the_admins_own_page_is_carried_out(
    daemon: Daemon,
) -> None:
    async with logged_in(daemon) as client:
        own = {"Origin": daemon.url, "Sec-Fetch-Site": "same-origin"}
        answer = await client.post(RESTART, headers=own)
    assert answer.status_code == 200
    assert daemon.system.snapshot("/root/store/writer").restarts_total == 1


async def test_a_request_naming_another_host_is_refused_even_with_the_token(
    daemon: Daemon,
) -> None:
    headers = {"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        answer = await client.get("/actors", headers=headers)
    assert answer.status_code == 400
    assert "Host" in answer.json()["error"]


async def test_a_host_listed_in_allowed_hosts_is_served(tmp_path: Path) -> None:
    settings = config(tmp_path, allowed_hosts=["admin.internal"])
    system = ActorSystem(build_tree(settings, {"ADMIN_TOKEN": TOKEN}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        headers = {"Host": "admin.internal:8081", "Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/actors", headers=headers)).status_code == 200
        system.shutdown()


async def test_every_login_issues_a_new_session_and_ends_the_one_presented(
    daemon: Daemon,
) -> None:
    async with logged_in(daemon) as client:
        first = client.cookies["olactors_admin"]
        await client.post("/session", json={"token": TOKEN})
        second = client.cookies["olactors_admin"]
    assert first != second
    async with httpx.AsyncClient(base_url=daemon.url, cookies={"olactors_admin": first}) as old:
        assert (await old.get("/session")).status_code == 401


async def test_logout_ends_the_session(daemon: Daemon) -> None:
    async with logged_in(daemon) as client:
        session = client.cookies["olactors_admin"]
        assert (await client.delete("/session")).status_code == 200
    cookies = {"olactors_admin": session}
    async with httpx.AsyncClient(base_url=daemon.url, cookies=cookies) as client:
        assert (await client.get("/session")).status_code == 401


async def test_a_session_one_process_opened_is_valid_in_another_on_the_same_store(
    daemon: Daemon,
) -> None:
    store = Store.at(daemon.system, STORE_PATH)
    # Two processes behind one admin address: each its own Sessions, one store.
    here, there = Sessions(60.0), Sessions(60.0)
    session = await here.open(store)
    assert await there.valid(store, session)
    await there.close(store, session)
    assert not await here.valid(store, session)


async def test_a_session_expires_after_its_lifetime(daemon: Daemon) -> None:
    store = Store.at(daemon.system, STORE_PATH)
    sessions = Sessions(0.2)
    session = await sessions.open(store)
    with trio.fail_after(30):
        while await sessions.valid(store, session):
            await trio.sleep(0.05)
    assert await sessions.open(store) != session


async def test_the_store_keeps_only_a_hash_of_a_session(daemon: Daemon) -> None:
    store = Store.at(daemon.system, STORE_PATH)
    session = await Sessions(60.0).open(store)
    keys = (await store.keys("olactors:admin-session:")).keys
    assert keys
    assert all(session not in key for key in keys)


async def test_a_login_with_a_lone_surrogate_is_refused_not_a_server_error(
    daemon: Daemon,
) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        answer = await client.post(
            "/session",
            content=b'{"token": "\\ud800"}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 401


async def test_every_answer_forbids_framing_sniffing_and_foreign_scripts(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        page, api = await client.get("/"), await client.get("/actors")
    for answer in (page, api):
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "script-src 'sha256-" in answer.headers["content-security-policy"]
    assert api.headers["cache-control"] == "no-store"


async def test_the_session_cookie_expires_with_the_session(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        answer = await client.post("/session", json={"token": TOKEN})
    assert "Max-Age=28800" in answer.headers["set-cookie"]


@asynccontextmanager
async def without_a_token(state: Path, tmp_path: Path) -> AsyncIterator[str]:
    """A daemon tree with no admin token configured, its state in ``state``: its admin URL."""
    settings = config(tmp_path).model_copy(
        update={"daemon": Config.model_validate({"daemon": {"state_dir": str(state)}}).daemon}
    )
    system = ActorSystem(build_tree(settings, {}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        yield system.actor_snapshot("/root/http/admin").state["addresses"][0]
        system.shutdown()


async def test_without_a_configured_token_one_is_generated_into_a_private_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    async with without_a_token(state, tmp_path) as url:
        token = (state / "admin.token").read_text().strip()
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/actors")).status_code == 401
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/actors", headers=headers)).status_code == 200
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "admin.token").stat().st_mode) == 0o600
    assert str(state / "admin.token") in caplog.text
    assert token not in caplog.text


def test_the_generated_token_is_kept_across_starts(tmp_path: Path) -> None:
    assert generated_token(tmp_path / "state") == generated_token(tmp_path / "state")


async def test_the_cli_uses_the_generated_token_when_none_is_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    async with without_a_token(state, tmp_path) as url:
        cli = tmp_path / "cli.toml"
        cli.write_text(f'[daemon]\nstate_dir = "{state}"\n')
        args = _parser().parse_args(["status", "--config", str(cli), "--admin", url])
        code = await trio.to_thread.run_sync(run_command, args, {})
    assert code == 0, capsys.readouterr().err


def test_a_weak_admin_token_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ADMIN_TOKEN: an admin token has at least 24"):
        build_tree(config(tmp_path), {"ADMIN_TOKEN": "short"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("127.attacker.invalid", False),  # .invalid never resolves (RFC 2606)
        ("10.0.0.1", False),
        ("0.0.0.0", False),
    ],
)
def test_loopback_is_decided_on_resolved_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_an_admin_bound_to_a_name_that_only_looks_like_loopback_needs_a_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(ConfigError, match="refusing to expose the admin listener"):
        build_tree(config(tmp_path, bind="127.attacker.invalid:8081"), {})
