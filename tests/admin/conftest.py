"""The ``daemon`` fixture: a running tree whose admin listener answers over HTTP; and the
configuration the CLI tests read their token variable from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .daemon import TOKEN, Daemon, config, started


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with started(config(tmp_path)) as running:
        yield running


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text('[admin]\ntoken_env = "ADMIN_TOKEN"\n')
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    return path
