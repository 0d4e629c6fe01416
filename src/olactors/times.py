"""Unix times as the daemon writes them for people and APIs: ISO 8601, UTC, with a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(unix: float, *, timespec: str = "seconds") -> str:
    """``unix`` as ISO 8601 in UTC (``2026-11-30T12:00:00Z``), to ``timespec``."""
    stamp = datetime.fromtimestamp(unix, UTC).isoformat(timespec=timespec)
    return stamp.replace("+00:00", "Z")
