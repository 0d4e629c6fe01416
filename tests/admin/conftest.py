"""The ``daemon`` fixture: a running tree whose admin listener answers over HTTP; and the
configuration the CLI tests read their token variable from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from olactors.runtime import ActorSystem
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    system = ActorSystem(build_tree(config(tmp_path), {"ADMIN_TOKEN": TOKEN}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        yield Daemon(system, url)
        system.shutdown()


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text('[admin]\ntoken_env = "ADMIN_TOKEN"\n')
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    return path
