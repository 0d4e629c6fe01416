"""What providers say about their limits, read from a response's status and headers.

Every number a header holds is read defensively: parsed without raising
(a 400-digit integer, ``1e-323``, ``nan``, a date in the year 9999), required
finite, and clamped to a range that makes sense for it. A value that cannot
be used is reported to ``malformed`` and ignored; nothing a provider sends
can crash the limiter or pause a provider forever.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
from collections.abc import Callable, Mapping

import msgspec

#: A 429 without Retry-After still means "back off": this long.
DEFAULT_429_PAUSE_S = 1.0
#: Meta reports usage over a rolling hour; a slow-down learned from it holds this long,
#: renewed by every response that carries the header.
META_HINT_HOLD_S = 60.0
#: No header may stop a provider, or stretch its budget, for longer than this:
#: a malformed or absurd value must not pause it forever.
MAX_HOLD_S = 3600.0
#: The most a budget may be stretched: one call in this many of the configured rate.
MAX_SLOWDOWN = 1000.0
#: Usage percentages beyond this are nonsense, not a harder "slow down".
MAX_USAGE_PCT = 1000.0
#: A remaining budget is a count of calls: bounded, whole.
MAX_REMAINING = 1e9

Malformed = Callable[[str], None]


def _ignore(header: str) -> None:
    return None


def bounded(value: object, low: float, high: float) -> float | None:
    """``value`` as a finite float clamped to [low, high]; None if it is not a usable number.

    Never raises: ints too large for a float, strings, NaN and infinities are None.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    return min(max(number, low), high)


class RateHint(msgspec.Struct, frozen=True):
    """How to adjust one provider's rate: pause everything, and/or stretch the interval."""

    pause_s: float = 0.0
    slowdown: float = 1.0
    hold_s: float = 0.0
    reason: str = ""


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date (``now`` is unix time).

    None when absent or unusable; otherwise within [0, MAX_HOLD_S].
    """
    if value is None:
        return None
    value = value.strip()
    seconds = bounded(value, 0.0, MAX_HOLD_S)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)  # asctime dates: HTTP dates are GMT
        return bounded(when.timestamp() - now, 0.0, MAX_HOLD_S)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def meta_usage_pct(
    headers: Mapping[str, str], malformed: Malformed = _ignore
) -> tuple[float, float]:
    """Highest usage percentage in Meta's X-App-Usage / X-Business-Use-Case-Usage,
    and the longest ``estimated_time_to_regain_access`` in seconds (0 if none)."""
    usage, regain_s = 0.0, 0.0
    for name in ("x-app-usage", "x-business-use-case-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            malformed(name)
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
                if key in entry:
                    value = bounded(entry[key], 0.0, MAX_USAGE_PCT)
                    if value is None or isinstance(entry[key], str):
                        malformed(name)
                    else:
                        usage = max(usage, value)
            if "estimated_time_to_regain_access" in entry:
                minutes = entry["estimated_time_to_regain_access"]
                regain = bounded(minutes, 0.0, MAX_HOLD_S / 60.0)
                if regain is None or isinstance(minutes, str):
                    malformed(name)
                else:
                    regain_s = max(regain_s, regain * 60.0)
    return usage, min(regain_s, MAX_HOLD_S)


def hint_from(
    status: int,
    headers: Mapping[str, str],
    *,
    now: float,
    rate_per_s: float,
    usage_threshold_pct: float = 75.0,
    malformed: Malformed = _ignore,
) -> RateHint | None:
    """The adjustment a response asks for, or None.

    ``headers`` must look names up case-insensitively (httpx.Headers does).
    ``now`` is unix time; ``rate_per_s`` the configured rate, against which a
    remaining budget is compared. Never raises; an unusable header is passed
    to ``malformed`` (by name) and ignored. A pause never exceeds
    :data:`MAX_HOLD_S`, a slowdown :data:`MAX_SLOWDOWN`.
    """
    remaining, reset_in = _remaining(headers, now, malformed)
    if status == 429 or (status == 503 and "retry-after" in headers):
        pause = retry_after_s(headers.get("retry-after"), now)
        if pause is None and "retry-after" in headers:
            malformed("retry-after")
        if pause is None and remaining is not None and remaining <= 0 and reset_in:
            pause = reset_in  # no Retry-After, but the reset says how long
        if pause is None:
            pause = DEFAULT_429_PAUSE_S
        return RateHint(pause_s=pause, reason=f"{status}")

    usage, regain_s = meta_usage_pct(headers, malformed)
    if regain_s > 0 or usage >= 100:
        return RateHint(pause_s=max(regain_s, META_HINT_HOLD_S), reason=f"meta usage {usage:g}%")
    if usage >= usage_threshold_pct:
        # 1x at the threshold, growing as the headroom to 100% shrinks.
        factor = (100.0 - usage_threshold_pct) / max(100.0 - usage, 1.0)
        return RateHint(
            slowdown=max(1.0, factor), hold_s=META_HINT_HOLD_S, reason=f"meta usage {usage:g}%"
        )

    if remaining is not None and reset_in is not None and reset_in > 0:
        if remaining < 1:  # a count of calls: less than one left is none left
            return RateHint(pause_s=reset_in, reason="x-ratelimit-remaining 0")
        allowed_rate = remaining / reset_in
        if allowed_rate < rate_per_s:
            return RateHint(
                slowdown=min(rate_per_s / allowed_rate, MAX_SLOWDOWN),
                hold_s=reset_in,
                reason=f"x-ratelimit-remaining {remaining:g} for {reset_in:.0f} s",
            )
    return None


def _remaining(
    headers: Mapping[str, str], now: float, malformed: Malformed
) -> tuple[float | None, float | None]:
    raw_remaining = headers.get("x-ratelimit-remaining")
    raw_reset = headers.get("x-ratelimit-reset")
    if raw_remaining is None or raw_reset is None:
        return None, None
    remaining = bounded(raw_remaining.strip(), 0.0, MAX_REMAINING)
    # Up to a unix time in milliseconds; beyond that it is not a time at all.
    reset = bounded(raw_reset.strip(), 0.0, 1e14)
    if remaining is None or reset is None:
        malformed("x-ratelimit-remaining" if remaining is None else "x-ratelimit-reset")
        return None, None
    # Providers send the reset as seconds from now, as a unix time, or as a
    # unix time in milliseconds: past 2001 in unix seconds it is no delay.
    if reset > 1e12:
        reset /= 1000.0
    reset_in = reset - now if reset > 1e9 else reset
    return math.floor(remaining), min(max(reset_in, 0.0), MAX_HOLD_S)
