"""The state directory and its files: private when made here, never a chmod of the operator's."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from olactors.state import generated_secret, private_dir, private_file


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


def generate_together(state_dir: Path, processes: int) -> list[tuple[str, bool] | BaseException]:
    """``generated_secret`` called by ``processes`` threads let go at one instant."""
    start = threading.Barrier(processes)
    results: list[tuple[str, bool] | BaseException] = []

    def generate() -> None:
        start.wait()
        try:
            results.append(generated_secret(state_dir, "admin.token"))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_processes_generating_one_secret_together_all_read_the_same_whole_secret(
    tmp_path: Path,
) -> None:
    # Several daemon processes start on one state directory: none may read a
    # file another has created but not yet written.
    for round_ in range(20):
        results = generate_together(tmp_path / f"round{round_}", 16)
        assert [r for r in results if isinstance(r, BaseException)] == []
        got = [r for r in results if not isinstance(r, BaseException)]
        assert len({secret for secret, _ in got}) == 1
        assert sum(new for _, new in got) == 1
