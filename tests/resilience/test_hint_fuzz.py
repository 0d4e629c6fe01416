"""Whatever a provider puts in its limit headers, reading them never raises and stays bounded."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from olactors.resilience._hints import MAX_HOLD_S, MAX_SLOWDOWN, hint_from, retry_after_s

NUMBERS = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e-323", "1e-320", "1e400", "-0", "nan", "inf", "0x10", "", " 5 "]),
    st.text(max_size=20),
)
JSON_VALUES: Any = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=40), inner, max_size=4)
    ),
    max_leaves=12,
)
USAGE_KEYS = ["call_count", "total_time", "total_cputime", "estimated_time_to_regain_access"]


def as_header(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")


@st.composite
def limit_headers(draw: st.DrawFn) -> dict[str, str]:
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["retry-after"] = as_header(draw(NUMBERS))
    if draw(st.booleans()):
        headers["x-ratelimit-remaining"] = as_header(draw(NUMBERS))
        headers["x-ratelimit-reset"] = as_header(draw(NUMBERS))
    if draw(st.booleans()):
        usage = draw(st.dictionaries(st.sampled_from(USAGE_KEYS), NUMBERS, max_size=4))
        headers["x-app-usage"] = as_header(usage)
    if draw(st.booleans()):
        per_business = draw(JSON_VALUES)
        headers["x-business-use-case-usage"] = as_header({"1": [per_business]})
    return headers


@settings(max_examples=400, deadline=None)
@given(
    status=st.sampled_from([200, 429, 503, 500]),
    headers=limit_headers(),
    rate=st.floats(min_value=0.01, max_value=10_000),
)
def test_any_limit_headers_give_a_bounded_hint_or_none(
    status: int, headers: dict[str, str], rate: float
) -> None:
    raw = httpx.Headers({name: value.encode("latin-1") for name, value in headers.items()})
    hint = hint_from(status, raw, now=1_700_000_000, rate_per_s=rate)
    if hint is not None:
        assert 0 <= hint.pause_s <= MAX_HOLD_S
        assert 1 <= hint.slowdown <= MAX_SLOWDOWN
        assert 0 <= hint.hold_s <= MAX_HOLD_S


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(max_size=60), NUMBERS.map(as_header)))
def test_any_retry_after_is_none_or_within_the_hold_cap(value: str) -> None:
    seconds = retry_after_s(value, now=1_700_000_000)
    assert seconds is None or 0 <= seconds <= MAX_HOLD_S
