"""A full disk: the sqlite store gives up its reserve, recovers, and makes the reserve again."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from olactors.store import NewItem, SqliteBackend, StoreUnavailable
from olactors.store._commands import Enqueue

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs: a real filesystem that really fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``."""
    filler = disk / "filler"
    with filler.open("wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError:
            pass
    return filler


def enqueue(backend: SqliteBackend, n: int) -> None:
    backend.execute([Enqueue("q", NewItem(payload=b"x" * 2048, id=f"evt_{n}"))])


def test_a_full_disk_releases_the_reserve_and_the_store_writes_again(small_disk: Path) -> None:
    now = [1000.0]
    backend = SqliteBackend(small_disk / "o.db", reserve_bytes=4 * MIB, clock=lambda: now[0])
    backend.open()
    try:
        assert backend.reserve.held
        enqueue(backend, 0)
        filler = fill(small_disk)
        written, refused = 1, 0
        for n in range(1, 2000):  # until the disk refuses, and then once more
            try:
                enqueue(backend, n)
                written += 1
            except StoreUnavailable:
                refused += 1
                break
        assert refused == 1
        assert not backend.reserve.held  # given up at the first "disk full"
        enqueue(backend, 5000)  # the freed room takes the next write
        filler.unlink()  # the operator frees space
        now[0] += 31.0
        enqueue(backend, 5001)
        assert backend.reserve.held
    finally:
        backend.close()
