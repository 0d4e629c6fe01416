"""``olactors run --processes N``: a parent sharing its listeners' sockets with N daemon
processes on one sqlite file, restarting one that dies, stopping them in order."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from olactors.processes import ProcessParent
from olactors.testing import RedisServer

TOKEN = "processes-test-token-0123456789abcdef"


class Parent:
    """``olactors run --processes N`` on loopback ports the kernel picks."""

    def __init__(
        self, home: Path, processes: int, public_bind: str = "127.0.0.1:0", store: str = ""
    ) -> None:
        self.home = home
        home.mkdir(exist_ok=True)
        self.config = home / "olactors.toml"
        sqlite = f'sqlite_path = "{home / "olactors.db"}"'
        self.config.write_text(
            f'[server]\npublic_bind = "{public_bind}"\n'
            '[admin]\nbind = "127.0.0.1:0"\n[api]\nbind = "127.0.0.1:0"\n'
            f'[daemon]\nstate_dir = "{home / "state"}"\nshutdown_timeout_s = 20.0\n'
            f"[store]\n{store or sqlite}\n"
        )
        self.log = home / "olactors.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "olactors",
                    "run",
                    "--config",
                    str(self.config),
                    "--processes",
                    str(processes),
                ],
                env={
                    **os.environ,
                    "OLACTORS_ADMIN_TOKEN": TOKEN,
                    # Replicas on Redis share it: it is never generated there.
                    "OLACTORS_SUBSCRIBER_KEY": "processes-subscriber-key-0123456789abcdef",
                },
                stderr=sink,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, count: int = 1, timeout_s: float = 60.0) -> list[str]:
        """The first groups of ``count`` matches of ``pattern`` in the log, once there."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count} x {pattern!r} in the log:\n{self.text()[-4000:]}")

    @property
    def admin(self) -> str:
        # A parent names the socket it shares; a daemon on its own, its listener.
        (url, *_) = self.wait_for(r'admin (?:socket|listener on) (http://[^\s",]+)')
        return url

    def processes(self) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.admin}/processes", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        records: list[dict[str, Any]] = answer.json()["processes"]
        return records

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=90)


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[Parent]:
    running = Parent(tmp_path, 2)
    try:
        running.wait_for(r"olactors running \(pid (\d+)\)", count=2)
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def gone(pid: int) -> bool:
    """Exited (reaped, or a zombie no one has reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def until(check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError("the condition never held")


def test_the_admin_lists_every_process_with_its_place_and_parent(parent: Parent) -> None:
    records = until(lambda: listed if len(listed := parent.processes()) == 2 else None)
    assert sorted(r["index"] for r in records) == [0, 1]
    assert {r["parent"] for r in records} == {parent.process.pid}
    assert {r["count"] for r in records} == {2}


def test_both_processes_accept_on_the_one_shared_socket(parent: Parent) -> None:
    # Each answer names the process that gave it: new connections go to either.
    answered = set()
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        for _ in range(400):
            answer = client.get(f"{parent.admin}/healthz", headers={"Connection": "close"})
            answered.add(answer.headers["Olactors-Process"])
            if len(answered) == 2:
                break
    assert len(answered) == 2


def test_a_killed_process_is_started_again_in_its_place(parent: Parent) -> None:
    records = until(lambda: listed if len(listed := parent.processes()) == 2 else None)
    victim = next(r for r in records if r["index"] == 1)
    os.kill(victim["pid"], signal.SIGKILL)
    again = until(
        lambda: next(
            (r for r in parent.processes() if r["index"] == 1 and r["restarts"] == 1), None
        )
    )
    assert again["pid"] != victim["pid"]
    assert parent.process.poll() is None


def test_sigterm_stops_every_process_in_order_and_the_parent_exits_0(parent: Parent) -> None:
    pids = [int(pid) for pid in parent.wait_for(r"olactors running \(pid (\d+)\)", count=2)]
    assert parent.stop() == 0
    assert all(gone(pid) for pid in pids)
    text = parent.text()
    # The last started first, each once the one before is gone.
    assert text.index("stopping process 1") < text.index("stopping process 0")
    assert "every process stopped" in text


def test_a_process_whose_parent_dies_stops_in_order(parent: Parent) -> None:
    pids = [int(pid) for pid in parent.wait_for(r"olactors running \(pid (\d+)\)", count=2)]
    parent.process.kill()
    parent.process.wait()
    until(lambda: all(gone(pid) for pid in pids))
    assert parent.text().count("the parent process is gone: stopping in order") == 2
    assert parent.text().count("olactors stopped cleanly") == 2


def test_a_listener_that_cannot_bind_stops_the_parent_before_any_process(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        parent = Parent(tmp_path, 2, public_bind=f"127.0.0.1:{port}")
        assert parent.process.wait(timeout=60) == 1
    assert f"cannot listen on 127.0.0.1:{port} (server.public_bind)" in parent.text()
    assert "started (pid" not in parent.text()


def test_replicas_on_one_redis_each_list_every_replica(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis_server:
        store = f'backend = "redis"\nredis_url = "{redis_server.url}"'
        replicas = [Parent(tmp_path / name, 1, store=store) for name in ("a", "b")]
        try:
            pids = {replica.process.pid for replica in replicas}
            for replica in replicas:

                def all_listed(replica: Parent = replica) -> list[dict[str, Any]] | None:
                    records = replica.processes()
                    return records if {r["pid"] for r in records} == pids else None

                assert all(r["parent"] is None for r in until(all_listed))
        finally:
            for replica in replicas:
                replica.stop()


# -- the parent on its own, with children that only play their part --------------------

CHILD = """
import json, os, signal, sys, time
handover = json.loads(os.environ["OLACTORS_HANDOVER"])
{setup}
os.write(handover["ready"], b"r")
while True:
    time.sleep(1)
"""


def child(setup: str = "") -> list[str]:
    return [sys.executable, "-c", CHILD.format(setup=setup)]


async def test_a_place_whose_child_never_comes_up_stops_the_parent_with_exit_1() -> None:
    _send, signals = trio.open_memory_channel[int](1)
    parent = ProcessParent(
        [sys.executable, "-c", "raise SystemExit(3)"],
        2,
        {},
        os.environ,
        first_backoff_s=0.01,
        max_failed_starts=3,
    )
    with trio.fail_after(60):
        assert await parent.run(signals) == 1
    assert all(place.starts >= 1 for place in parent.places)
    assert max(place.starts for place in parent.places) == 3


async def test_a_stop_before_the_children_are_up_leaves_none_running() -> None:
    send, signals = trio.open_memory_channel[int](1)
    parent = ProcessParent(child("time.sleep(0.5)"), 2, {}, os.environ)
    await send.send(signal.SIGTERM)  # before any child could start
    with trio.fail_after(60):
        assert await parent.run(signals) == 0
    assert all(
        place.process is None or place.process.returncode is not None for place in parent.places
    )


async def test_a_second_signal_is_forwarded_to_every_child_still_running() -> None:
    # Children that ignore SIGTERM (a drain that never ends) and go on SIGINT.
    setup = "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + (
        "signal.signal(signal.SIGINT, lambda *_: os._exit(0))"
    )
    send, signals = trio.open_memory_channel[int](1)
    parent = ProcessParent(child(setup), 2, {}, os.environ)
    async with trio.open_nursery() as nursery:
        codes: list[int] = []

        async def run() -> None:
            codes.append(await parent.run(signals))

        nursery.start_soon(run)
        with trio.fail_after(60):
            while not all(place.process for place in parent.places):
                await trio.sleep(0.05)
            await send.send(signal.SIGTERM)
            while not parent.stopping:
                await trio.sleep(0.05)
            await send.send(signal.SIGINT)
    assert codes == [0]
    assert all(place.process and place.process.returncode == 0 for place in parent.places)
