"""The scripts under scripts/ run their short profile (figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHORT_PROFILE = ["--messages", "2000", "--asks", "500", "--rounds", "1"]
SHORT_STORE_PROFILE = ["--items", "256", "--single-items", "20", "--rounds", "1"]


def test_bench_runtime_prints_both_ratios_on_a_short_profile() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/bench_runtime.py", *SHORT_PROFILE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ratio ours/bare") == 2
    assert result.stdout.startswith("tell:")


def test_bench_store_prints_all_four_ratios_on_a_short_profile() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/bench_store.py", *SHORT_STORE_PROFILE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ratio ours/bare") == 4
