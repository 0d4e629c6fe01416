"""What /readyz says: problems take the replica out of rotation, warnings only tell a person."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import trio

from olactors.admin._health import BacklogTrend
from olactors.resilience import RESILIENCE_PATH, ProviderGuard
from olactors.runtime import ActorSystem
from olactors.store import QueueCounts
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config, dead_letter

REPO = Path(__file__).resolve().parents[2]


async def call(daemon: Daemon, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        return await client.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"})


async def test_an_open_provider_breaker_is_a_warning_not_a_reason_to_leave_rotation(
    daemon: Daemon,
) -> None:
    guard = ProviderGuard.at(daemon.system, RESILIENCE_PATH, "stripe")
    for _ in range(10):  # the default minimum_calls, every one failed
        permit = await guard.breaker.permit()
        guard.breaker.record(permit, failed=True, duration_s=0.01)
    with trio.fail_after(10):
        while (
            daemon.system.actor_snapshot(f"{RESILIENCE_PATH}/stripe/breaker").state["state"]
            != "open"
        ):
            await trio.sleep(0.01)
    answer = await call(daemon, "GET", "/readyz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    [warning] = answer.json()["warnings"]
    assert warning.startswith("provider stripe: breaker open, retried in ")


def trend_after(readings: list[tuple[float, int]]) -> list[str]:
    """What a trend over 60 s (3 readings at least) says after ``(time, backlog)`` readings."""
    now = [0.0]
    trend = BacklogTrend(lambda: now[0], window_s=60.0, spacing_s=10.0, min_readings=3)
    said: list[str] = []
    for at, backlog in readings:
        now[0] = at
        said = trend.record({"q": QueueCounts(ready=backlog, leased=0, delayed=0, dead=0)})
    return said


def test_a_backlog_that_rose_at_every_reading_over_the_window_is_growing() -> None:
    assert trend_after([(0, 10), (30, 40), (60, 90)]) == [
        "queue q: backlog grew from 10 to 90 in 60 s (arriving faster than delivered)"
    ]


def test_a_backlog_that_fell_once_in_the_window_is_not_growing() -> None:
    assert trend_after([(0, 10), (30, 5), (60, 90)]) == []


def test_readings_closer_together_than_the_spacing_change_nothing() -> None:
    # A dashboard reads every second, a probe every ten: the same backlog
    # rising steadily is growing whoever reads it, and however often.
    every_second = [(t, 10 + t) for t in range(61)]
    assert trend_after(every_second) == [
        "queue q: backlog grew from 10 to 70 in 60 s (arriving faster than delivered)"
    ]


def test_a_backlog_that_held_steady_for_a_while_and_then_rose_is_growing() -> None:
    assert trend_after([(0, 10), (30, 10), (60, 90)]) == [
        "queue q: backlog grew from 10 to 90 in 60 s (arriving faster than delivered)"
    ]


def test_readings_over_less_than_the_window_say_nothing() -> None:
    assert trend_after([(0, 10), (10, 40), (20, 90)]) == []


async def test_a_path_the_admin_does_not_serve_is_a_json_404(daemon: Daemon) -> None:
    answer = await call(daemon, "GET", "/no/such/thing")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert "error" in answer.json()


async def test_a_method_a_path_does_not_take_is_a_json_405_with_allow(daemon: Daemon) -> None:
    answer = await call(daemon, "DELETE", "/healthz")
    assert answer.status_code == 405
    assert answer.json()["error"]
    assert "GET" in answer.headers["allow"]


def test_output_cut_short_by_a_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has stopped reading: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "olactors", "check-config", str(REPO / "config/olactors.toml")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0


async def test_an_open_probe_tells_an_outsider_the_grade_and_counts_only(tmp_path: Path) -> None:
    system = ActorSystem(build_tree(config(tmp_path, open_probes=True), {"ADMIN_TOKEN": TOKEN}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        daemon = Daemon(system, system.actor_snapshot("/root/http/admin").state["addresses"][0])
        await dead_letter(daemon)
        async with httpx.AsyncClient(base_url=daemon.url) as client:
            outside = (await client.get("/readyz")).json()
        inside = (await call(daemon, "GET", "/readyz")).json()
        system.shutdown()
    assert outside == {"status": "degraded", "problem_count": 0, "warning_count": 1}
    assert inside["warnings"] == ["queue stripe: 1 dead letter(s) waiting for a replay"]
