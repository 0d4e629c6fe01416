"""What providers say about their limits, read from a response's status and headers."""

from __future__ import annotations

import datetime
import email.utils
import json
import math
from collections.abc import Mapping

import msgspec

#: A 429 without Retry-After still means "back off": this long.
DEFAULT_429_PAUSE_S = 1.0
#: Meta reports usage over a rolling hour; a slow-down learned from it holds this long,
#: renewed by every response that carries the header.
META_HINT_HOLD_S = 60.0
#: No header may stop a provider, or stretch its budget, for longer than this:
#: a malformed or absurd value must not pause it forever.
MAX_HOLD_S = 3600.0


class RateHint(msgspec.Struct, frozen=True):
    """How to adjust one provider's rate: pause everything, and/or stretch the interval."""

    pause_s: float = 0.0
    slowdown: float = 1.0
    hold_s: float = 0.0
    reason: str = ""


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date (``now`` is unix time)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)  # asctime dates: HTTP dates are GMT
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_HOLD_S)


def meta_usage_pct(headers: Mapping[str, str]) -> tuple[float, float]:
    """Highest usage percentage in Meta's X-App-Usage / X-Business-Use-Case-Usage,
    and the longest ``estimated_time_to_regain_access`` in seconds (0 if none)."""
    usage, regain_s = 0.0, 0.0
    for name in ("x-app-usage", "x-business-use-case-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries: list[object] = []
        if name == "x-app-usage":
            entries = [data]
        elif isinstance(data, dict):
            for per_business in data.values():
                if isinstance(per_business, list):
                    entries += per_business
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_time", "total_cputime"):
                value = entry.get(key)
                if isinstance(value, int | float):
                    usage = max(usage, float(value))
            regain = entry.get("estimated_time_to_regain_access")
            if isinstance(regain, int | float) and math.isfinite(regain):
                regain_s = max(regain_s, float(regain) * 60.0)
    return usage, min(regain_s, MAX_HOLD_S)


def hint_from(
    status: int,
    headers: Mapping[str, str],
    *,
    now: float,
    rate_per_s: float,
    usage_threshold_pct: float = 75.0,
) -> RateHint | None:
    """The adjustment a response asks for, or None.

    ``headers`` must look names up case-insensitively (httpx.Headers does).
    ``now`` is unix time; ``rate_per_s`` the configured rate, against which a
    remaining budget is compared.
    """
    remaining, reset_in = _remaining(headers, now)
    if status == 429 or (status == 503 and "retry-after" in headers):
        pause = retry_after_s(headers.get("retry-after"), now)
        if pause is None and remaining is not None and remaining <= 0 and reset_in:
            pause = reset_in  # no Retry-After, but the reset says how long
        if pause is None:
            pause = DEFAULT_429_PAUSE_S
        return RateHint(pause_s=pause, reason=f"{status}")

    usage, regain_s = meta_usage_pct(headers)
    if regain_s > 0 or usage >= 100:
        return RateHint(pause_s=max(regain_s, META_HINT_HOLD_S), reason=f"meta usage {usage:g}%")
    if usage >= usage_threshold_pct:
        # 1x at the threshold, growing as the headroom to 100% shrinks.
        factor = (100.0 - usage_threshold_pct) / max(100.0 - usage, 1.0)
        return RateHint(
            slowdown=max(1.0, factor), hold_s=META_HINT_HOLD_S, reason=f"meta usage {usage:g}%"
        )

    if remaining is not None and reset_in is not None and reset_in > 0:
        if remaining <= 0:
            return RateHint(pause_s=reset_in, reason="x-ratelimit-remaining 0")
        allowed_rate = remaining / reset_in
        if allowed_rate < rate_per_s:
            return RateHint(
                slowdown=rate_per_s / allowed_rate,
                hold_s=reset_in,
                reason=f"x-ratelimit-remaining {remaining:g} for {reset_in:.0f} s",
            )
    return None


def _remaining(headers: Mapping[str, str], now: float) -> tuple[float | None, float | None]:
    try:
        remaining = float(headers["x-ratelimit-remaining"])
        reset = float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None, None
    if not (math.isfinite(remaining) and math.isfinite(reset)):
        return None, None
    # Providers send the reset as seconds from now, as a unix time, or as a
    # unix time in milliseconds: past 2001 in unix seconds it is no delay.
    if reset > 1e12:
        reset /= 1000.0
    reset_in = reset - now if reset > 1e9 else reset
    return remaining, min(max(reset_in, 0.0), MAX_HOLD_S)
