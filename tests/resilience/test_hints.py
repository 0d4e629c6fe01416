"""Reading providers' limit signals, with their published header samples."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from olactors.resilience._hints import RateHint, hint_from, meta_usage_pct, retry_after_s

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def usage_samples() -> dict[str, str]:
    data = json.loads((FIXTURES / "instagram_usage_headers.json").read_text())
    return next(v for k, v in data.items() if k.startswith("raw_header_strings"))


def test_retry_after_in_seconds() -> None:
    assert retry_after_s("120", now=0) == 120


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10


@pytest.mark.parametrize("value", ["soon", "", "nan", None])
def test_an_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert retry_after_s(value, now=0) is None


def test_a_429_pauses_for_its_retry_after() -> None:
    hint = hint_from(429, httpx.Headers({"Retry-After": "7"}), now=0, rate_per_s=10)
    assert hint == RateHint(pause_s=7, reason="429")


def test_meta_app_usage_below_the_threshold_changes_nothing() -> None:
    headers = httpx.Headers({"X-App-Usage": usage_samples()["x-app-usage (16%)"]})
    assert hint_from(200, headers, now=0, rate_per_s=10) is None


def test_meta_app_usage_above_the_threshold_slows_down_ahead_of_the_limit() -> None:
    headers = httpx.Headers({"X-App-Usage": usage_samples()["x-app-usage (91%)"]})
    hint = hint_from(200, headers, now=0, rate_per_s=10)
    assert hint is not None
    assert hint.pause_s == 0
    assert hint.slowdown == pytest.approx(25 / 9)


def test_meta_business_use_case_regain_time_pauses_for_that_long() -> None:
    data = json.loads((FIXTURES / "instagram_usage_headers.json").read_text())
    constructed = next(v for k, v in data.items() if k.startswith("instagram_type_example"))
    assert meta_usage_pct(httpx.Headers({"x-business-use-case-usage": constructed})) == (100, 420)
    hint = hint_from(
        200, httpx.Headers({"x-business-use-case-usage": constructed}), now=0, rate_per_s=10
    )
    assert hint is not None
    assert hint.pause_s == 420


def test_no_remaining_budget_pauses_until_the_reset() -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000030"})
    hint = hint_from(200, headers, now=1700000000, rate_per_s=10)
    assert hint is not None
    assert hint.pause_s == 30


def test_a_small_remaining_budget_spreads_the_calls_until_the_reset() -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "20", "X-RateLimit-Reset": "10"})
    hint = hint_from(200, headers, now=0, rate_per_s=10)
    assert hint is not None
    assert (hint.slowdown, hint.hold_s) == (5, 10)


def test_retry_after_in_asctime_form_is_read_as_gmt() -> None:
    assert retry_after_s("Wed Oct 21 07:28:00 2015", now=1445412470) == 10


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "1e300"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "inf"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1e40"},
        {"x-business-use-case-usage": '{"1":[{"estimated_time_to_regain_access":1e300}]}'},
    ],
)
def test_no_header_can_pause_a_provider_for_more_than_an_hour(headers: dict[str, str]) -> None:
    hint = hint_from(
        429 if "Retry-After" in headers else 200, httpx.Headers(headers), now=0, rate_per_s=1
    )
    assert hint is None or hint.pause_s <= 3600


def test_a_reset_in_epoch_milliseconds_is_read_as_such() -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000030000"})
    hint = hint_from(200, headers, now=1700000000, rate_per_s=10)
    assert hint is not None
    assert hint.pause_s == pytest.approx(30)


def test_a_429_without_retry_after_waits_for_the_rate_limit_reset() -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "45"})
    hint = hint_from(429, headers, now=0, rate_per_s=10)
    assert hint is not None
    assert hint.pause_s == 45
