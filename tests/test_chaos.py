"""The chaos scenarios' short profile: each runs seconds, and its ledger must show no
acknowledged event lost (the long profile is scripts/chaos.py's, for operators)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


#: Each scenario's short profile: --duration 3 --rate 20, and its own.
PROFILES = [
    ("kill", "--period 1"),
    ("kill", "--period 1 --backend redis --replicas 3"),
    ("kill", "--period 0.7 --replicas 2"),  # the fourth kill is the parent's
    ("destination", "--period 0.4"),
    ("handler", "--period 0.7"),
    ("redis", "--period 0.7"),
    ("partition", "--period 0.5"),
    ("disk", "--period 0.7"),
    ("crash", "--period 1"),
]


@pytest.mark.parametrize(
    ("scenario", "profile"),
    [(name, ["--duration", "3", "--rate", "20", *extra.split()]) for name, extra in PROFILES],
    ids=[f"{name} {extra}" for name, extra in PROFILES],
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
    if f"{scenario}: skipped" in result.stdout:
        pytest.skip(result.stdout.strip())  # no tmpfs for the disk scenario here
    ledger = dict(
        line.strip().rsplit(None, 1)
        for line in result.stdout.splitlines()
        if line.startswith("  ") and line.strip().rsplit(None, 1)[-1].isdigit()
    )
    assert ledger["lost"] == "0"
    assert ledger["still queued"] == "0"  # the drain finished: nothing stuck, nothing unaccounted
    sent = float(profile[1]) * float(profile[3])
    assert int(ledger["acknowledged"]) == sent  # every event sent was acknowledged in the end
