"""The scripts under scripts/ run their short profile (figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "profile", "comparisons"),
    [
        (
            "bench_runtime.py",
            ["--messages", "2000", "--asks", "500", "--children", "200", "--rounds", "1"],
            3,
        ),
        ("bench_store.py", ["--items", "256", "--single-items", "20", "--rounds", "1"], 4),
        ("bench_clients.py", ["--requests", "64", "--concurrency", "8", "--rounds", "1"], 2),
        ("bench_ingest.py", ["--seconds", "0.5", "--connections", "4", "--rounds", "1"], 1),
        (
            "bench_e2e.py",
            [
                *("--seconds", "0.5", "--connections", "4", "--rounds", "1"),
                *("--rate", "10", "--light-seconds", "0.5", "--in-flight", "4"),
            ],
            4,
        ),
        ("soak_slow_clients.py", ["--slow", "40", "--seconds", "0.5", "--rounds", "1"], 1),
        (
            "bench_broadcast.py",
            ["--subscribers", "20", "--messages", "3", "--rounds", "1"],
            1,
        ),
        # sqlite and the machine's PostgreSQL (a database made and dropped).
        ("bench_sync.py", ["--records", "2000", "--rounds", "1"], 2),
        # moto's S3 server and an olactors run process of its own.
        (
            "bench_storage.py",
            ["--rounds", "1", "--small-mb", "0.1", "--big-mb", "1", "--huge-mb", "2"],
            2,
        ),
    ],
)
def test_a_benchmark_prints_every_ratio_on_its_short_profile(
    script: str, profile: list[str], comparisons: int
) -> None:
    result = subprocess.run(
        [sys.executable, f"scripts/{script}", *profile],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("  ratio ") == comparisons
