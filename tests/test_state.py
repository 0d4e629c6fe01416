"""The state directory and its files: private when made here, never a chmod of the operator's."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from olactors.state import private_dir, private_file


def test_a_state_directory_made_here_is_private(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "state")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_an_existing_open_directory_is_warned_about_not_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert "others can enter it" in caplog.text


def test_a_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("x")
    path.chmod(0o644)
    private_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
