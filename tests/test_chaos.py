"""The chaos scenarios' short profile: each runs seconds, and its ledger must show no
acknowledged event lost (the long profile is scripts/chaos.py's, for operators)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("scenario", "profile"),
    [
        ("kill", ["--duration", "3", "--rate", "20", "--period", "1"]),
        ("destination", ["--duration", "3", "--rate", "20", "--period", "0.5"]),
        ("redis", ["--duration", "4", "--rate", "20", "--period", "0.7"]),
    ],
)
def test_a_scenario_loses_no_acknowledged_event(scenario: str, profile: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/chaos.py", scenario, *profile],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ledger = dict(
        line.strip().rsplit(None, 1)
        for line in result.stdout.splitlines()
        if line.startswith("  ") and line.strip().rsplit(None, 1)[-1].isdigit()
    )
    assert ledger["lost"] == "0"
    sent = float(profile[1]) * float(profile[3])
    assert int(ledger["acknowledged"]) == sent  # every event sent was acknowledged in the end
