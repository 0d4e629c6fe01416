"""``olactors status | breakers | dead-letters`` against a running admin listener."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from olactors.cli import main
from olactors.config import Config, StoreConfig
from olactors.runtime import ActorSystem
from olactors.testing import RedisServer
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config, dead_letter


async def olactors(daemon: Daemon, config: Path, *args: str) -> int:
    # The command is synchronous HTTP: run it off the event loop serving the daemon.
    command, rest = args[0], args[1:]
    argv = [command, *rest, "--config", str(config), "--admin", daemon.url]
    return await trio.to_thread.run_sync(main, argv)


async def test_status_prints_the_actor_tree_as_a_table(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await olactors(daemon, cli_config, "status") == 0
    lines = capsys.readouterr().out.splitlines()
    assert ["ACTOR", "STATUS", "RESTARTS", "MAILBOX", "MSG/S", "LAST", "ERROR"] in [
        line.split() for line in lines
    ]
    store = next(line for line in lines if line.startswith("/root/store "))
    assert store.split()[:3] == ["/root/store", "running", "0"]
    assert any(line.startswith("/root/http/admin ") for line in lines)


async def test_status_says_ready_and_exits_0_when_nothing_needs_a_person(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await olactors(daemon, cli_config, "status") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ready"
    assert "no queues hold items" in out


async def test_status_is_degraded_and_exits_3_while_dead_letters_wait(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await dead_letter(daemon)
    assert await olactors(daemon, cli_config, "status") == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "degraded",
        "  warning: queue stripe: 1 dead letter(s) waiting for a replay",
    ]
    assert ["stripe", "0", "0", "0", "0", "1"] in [line.split() for line in lines]


async def test_status_exits_1_and_says_why_when_the_store_is_down(
    tmp_path: Path, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RedisServer(tmp_path / "redis") as redis:
        settings = config(tmp_path).model_copy(
            update={"store": StoreConfig(backend="redis", redis_url=redis.url)}
        )
        keys = {"ADMIN_TOKEN": TOKEN, "OLACTORS_SUBSCRIBER_KEY": "k" * 32}
        system = ActorSystem(build_tree(settings, keys))
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run)
            url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
            redis.stop()
            assert await olactors(Daemon(system, url), cli_config, "status") == 1
            system.shutdown()
    out = capsys.readouterr().out
    assert out.startswith("not ready\n  problem: store cannot write")


async def test_dead_letters_are_listed_shown_and_replayed(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item_id = await dead_letter(daemon)
    assert await olactors(daemon, cli_config, "dead-letters", "list", "--queue", "stripe") == 0
    listed = [line.split(maxsplit=3) for line in capsys.readouterr().out.splitlines()]
    assert listed[0] == ["DEAD", "SINCE", "ID", "ATTEMPTS  LAST ERROR"]
    assert listed[1][1:] == [item_id, "1", "app answered 500"]
    assert (
        await olactors(daemon, cli_config, "dead-letters", "show", item_id, "--queue", "stripe")
        == 0
    )
    shown = capsys.readouterr().out
    assert "last_error: app answered 500" in shown
    assert shown.rstrip().endswith('payload:\n{"id":"evt_dead"}')
    args = ("dead-letters", "replay", item_id, "--queue", "stripe")
    assert await olactors(daemon, cli_config, *args) == 0
    assert capsys.readouterr().out.strip() == "status=replayed"
    assert await olactors(daemon, cli_config, "dead-letters", "list", "--queue", "stripe") == 0
    assert capsys.readouterr().out == "no dead letters in stripe\n"


async def test_an_unknown_dead_letter_is_exit_1_with_the_daemons_reason(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("dead-letters", "show", "evt_nope", "--queue", "stripe")
    assert await olactors(daemon, cli_config, *args) == 1
    err = capsys.readouterr().err
    # hypercorn may have written its own lines first: ours is the last.
    assert err.splitlines()[-1] == "olactors dead-letters: 404: no dead letter evt_nope in stripe"


async def test_a_dead_letter_is_deleted(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item_id = await dead_letter(daemon)
    args = ("dead-letters", "delete", item_id, "--queue", "stripe")
    assert await olactors(daemon, cli_config, *args) == 0
    assert capsys.readouterr().out.strip() == "status=deleted"
    assert await olactors(daemon, cli_config, *args) == 1


async def test_every_dead_letter_of_a_queue_is_replayed_with_all(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await dead_letter(daemon)
    args = ("dead-letters", "replay", "--all", "--queue", "stripe", "--json")
    assert await olactors(daemon, cli_config, *args) == 0
    assert json.loads(capsys.readouterr().out) == {"status": "replayed", "count": 1}


async def test_breakers_lists_every_provider_and_resets_one(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await olactors(daemon, cli_config, "breakers", "--json") == 0
    states = json.loads(capsys.readouterr().out)
    assert set(states) == set(Config().providers)
    assert await olactors(daemon, cli_config, "breakers") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["stripe", "closed", "-", "0", "0/0"] in rows
    assert await olactors(daemon, cli_config, "breakers", "--reset", "stripe") == 0
    assert capsys.readouterr().out.strip() == "status=reset provider=stripe"


async def test_a_refused_token_says_which_variable_to_set(
    daemon: Daemon,
    cli_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", "wrong")
    assert await olactors(daemon, cli_config, "status") == 1
    err = capsys.readouterr().err
    assert "refused the token" in err
    assert "wrong" not in err


def test_an_unreachable_listener_is_exit_1_with_the_address(
    cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 is privileged and unused here: the connection is refused.
    argv = ["status", "--config", str(cli_config), "--admin", "http://127.0.0.1:1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "cannot reach the admin listener at http://127.0.0.1:1" in err
