"""The proxy calls key-based providers (Stripe, SendGrid) with the daemon's API key,
through their budgets, breakers and safe retries, and hands their answers back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from olactors.testing import Canned

from ..oauth.support import API_KEY
from .support import ENV, SENDGRID_KEY, STRIPE_KEY, Rig, proxied

FIXTURES = Path(__file__).parents[1] / "clients/fixtures"
INTENT = json.loads((FIXTURES / "payment_intent_docs_example.json").read_text())
DECLINED = json.loads((FIXTURES / "card_declined.json").read_text())
FORM = b"amount=2000&currency=usd&payment_method_types[]=card"
FORM_TYPE = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with proxied(tmp_path) as rig:
        yield rig


async def test_a_call_carries_the_provider_s_key_and_never_the_app_s_own(rig: Rig) -> None:
    rig.api.route("/v1/payment_intents", Canned(200, json=INTENT))
    answer = await rig.proxy(
        "POST", "/v1/proxy/stripe/v1/payment_intents", content=FORM, headers=FORM_TYPE
    )
    assert (answer.status_code, answer.json()) == (200, INTENT)
    (seen,) = rig.api.seen("/v1/payment_intents")
    assert seen.headers["authorization"] == f"Bearer {STRIPE_KEY}"
    assert (seen.body, seen.headers["content-type"]) == (FORM, FORM_TYPE["content-type"])
    assert not [name for name, value in seen.headers.items() if API_KEY in value]


async def test_a_post_is_retried_after_a_5xx_under_one_idempotency_key(rig: Rig) -> None:
    rig.api.script("/v1/payment_intents", Canned(500, json={"error": {"type": "api_error"}}))
    rig.api.route("/v1/payment_intents", Canned(200, json=INTENT))
    answer = await rig.proxy(
        "POST", "/v1/proxy/stripe/v1/payment_intents", content=FORM, headers=FORM_TYPE
    )
    assert answer.status_code == 200
    first, second = rig.api.seen("/v1/payment_intents")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


async def test_the_app_s_idempotency_key_reaches_a_provider_that_reads_them(rig: Rig) -> None:
    rig.api.route("/v1/payment_intents", Canned(200, json=INTENT))
    await rig.proxy(
        "POST",
        "/v1/proxy/stripe/v1/payment_intents",
        content=FORM,
        headers={**FORM_TYPE, "idempotency-key": "order-1234"},
    )
    (seen,) = rig.api.seen("/v1/payment_intents")
    assert seen.headers["idempotency-key"] == "order-1234"


async def test_a_post_to_a_provider_without_idempotency_keys_is_sent_once(rig: Rig) -> None:
    rig.api.route("/v3/mail/send", Canned(500, json={"errors": [{"message": "oops"}]}))
    answer = await rig.proxy(
        "POST",
        "/v1/proxy/sendgrid/v3/mail/send",
        content=b"{}",
        headers={"content-type": "application/json"},
    )
    assert (answer.status_code, answer.json()) == (500, {"errors": [{"message": "oops"}]})
    assert answer.headers["olactors-provider"] == "sendgrid"
    (seen,) = rig.api.seen("/v3/mail/send")
    assert "idempotency-key" not in seen.headers
    assert seen.headers["authorization"] == f"Bearer {SENDGRID_KEY}"


async def test_a_repeated_idempotency_key_is_answered_by_the_daemon_as_first_sent(
    rig: Rig,
) -> None:
    rig.api.route("/v3/mail/send", Canned(202, headers={"x-message-id": "msg-1"}))
    sent = {"content-type": "application/json", "idempotency-key": "welcome-42"}
    first = await rig.proxy("POST", "/v1/proxy/sendgrid/v3/mail/send", content=b"{}", headers=sent)
    again = await rig.proxy("POST", "/v1/proxy/sendgrid/v3/mail/send", content=b"{}", headers=sent)
    assert len(rig.api.seen("/v3/mail/send")) == 1
    assert (again.status_code, again.headers["x-message-id"]) == (202, "msg-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert first.headers["x-message-id"] == "msg-1"


async def test_a_provider_s_refusal_comes_back_as_it_sent_it(rig: Rig) -> None:
    rig.api.route(
        "/v1/payment_intents", Canned(402, json=DECLINED, headers={"request-id": "req_123"})
    )
    answer = await rig.proxy(
        "POST", "/v1/proxy/stripe/v1/payment_intents", content=FORM, headers=FORM_TYPE
    )
    assert (answer.status_code, answer.json()) == (402, DECLINED)
    assert answer.headers["request-id"] == "req_123"
    assert answer.headers["olactors-provider"] == "stripe"


async def test_a_provider_s_429_is_rate_limited_with_its_retry_after(rig: Rig) -> None:
    slow_down = {"error": {"type": "rate_limit_error"}}
    rig.api.route("/v1/customers", Canned(429, json=slow_down, headers={"retry-after": "120"}))
    answer = await rig.proxy("GET", "/v1/proxy/stripe/v1/customers")
    assert answer.status_code == 429
    assert answer.json()["error"]["type"] == "rate_limited"
    assert answer.headers["retry-after"] == "120"
    assert len(rig.api.seen("/v1/customers")) == 1  # longer than a call waits: not retried


async def test_an_open_breaker_answers_circuit_open_without_calling(tmp_path: Path) -> None:
    breaker = {"window_size": 2, "minimum_calls": 2, "failure_rate_pct": 50, "open_s": 60}
    async with proxied(tmp_path, max_attempts=1, breaker=breaker) as rig:
        rig.api.route("/v1/customers", Canned(503, json={"error": {"type": "api_error"}}))
        for _ in range(2):
            assert (await rig.proxy("GET", "/v1/proxy/stripe/v1/customers")).status_code == 503
        answer = await rig.proxy("GET", "/v1/proxy/stripe/v1/customers")
        assert answer.json()["error"]["type"] == "circuit_open"
        assert int(answer.headers["retry-after"]) > 0
        assert len(rig.api.seen("/v1/customers")) == 2


async def test_an_unreachable_provider_is_a_typed_502(tmp_path: Path) -> None:
    async with proxied(tmp_path, max_attempts=1) as rig:
        rig.api.route("/v1/customers", Canned(reset=True))
        answer = await rig.proxy("GET", "/v1/proxy/stripe/v1/customers")
    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "provider_unreachable"


async def test_prefixed_headers_reach_the_provider_without_their_prefix(rig: Rig) -> None:
    rig.api.route("/v1/customers", Canned(200, json={"data": []}))
    await rig.proxy(
        "GET",
        "/v1/proxy/stripe/v1/customers",
        headers={"olactors-proxy-stripe-account": "acct_1", "x-other": "no"},
    )
    (seen,) = rig.api.seen("/v1/customers")
    assert seen.headers["stripe-account"] == "acct_1"
    assert "x-other" not in seen.headers


async def test_the_app_cannot_send_its_own_credentials_through(rig: Rig) -> None:
    answer = await rig.proxy(
        "GET",
        "/v1/proxy/stripe/v1/customers",
        headers={"olactors-proxy-authorization": "Bearer sk_live_other"},
    )
    assert answer.status_code == 400
    assert rig.api.requests == []


@pytest.mark.parametrize("path", ["v1/%2e%2e/admin", "v1/..%2Fadmin", "v1/a%00b"])
async def test_a_path_that_would_leave_the_provider_s_base_is_refused(rig: Rig, path: str) -> None:
    answer = await rig.proxy("GET", f"/v1/proxy/stripe/{path}")
    assert answer.status_code == 400
    assert rig.api.requests == []


async def test_a_provider_whose_key_is_not_set_is_not_proxied(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "SENDGRID_API_KEY"}
    async with proxied(tmp_path, env=env) as rig:
        answer = await rig.proxy("POST", "/v1/proxy/sendgrid/v3/mail/send", content=b"{}")
    assert answer.status_code == 404
    assert "SENDGRID_API_KEY is not set" in answer.json()["error"]["message"]


async def test_an_unknown_provider_is_not_found(rig: Rig) -> None:
    answer = await rig.proxy("GET", "/v1/proxy/github/user")
    assert (answer.status_code, answer.json()["error"]["type"]) == (404, "not_found")


async def test_a_spent_budget_is_a_429_at_once_without_calling_the_provider(rig: Rig) -> None:
    slow_down = {"error": {"type": "rate_limit_error"}}
    rig.api.route("/v1/customers", Canned(429, json=slow_down, headers={"retry-after": "120"}))
    await rig.proxy("GET", "/v1/proxy/stripe/v1/customers")  # the limiter holds stripe 120 s
    answer = await rig.proxy("GET", "/v1/proxy/stripe/v1/balance")
    assert (answer.status_code, answer.json()["error"]["type"]) == (429, "rate_limited")
    assert 100 < int(answer.headers["retry-after"]) <= 120
    assert rig.api.seen("/v1/balance") == []


async def test_a_429_without_retry_after_still_says_when_to_come_back(rig: Rig) -> None:
    rig.api.route("/v1/customers", Canned(429, json={"error": {"type": "rate_limit_error"}}))
    answer = await rig.proxy("GET", "/v1/proxy/stripe/v1/customers")
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "1")


async def test_one_idempotency_key_with_another_query_is_a_conflict(rig: Rig) -> None:
    rig.api.route("/v1/payment_intents", Canned(200, json=INTENT))
    key = {**FORM_TYPE, "idempotency-key": "order-9"}
    path = "/v1/proxy/stripe/v1/payment_intents"
    await rig.proxy("POST", f"{path}?expand[]=customer", content=FORM, headers=key)
    other = await rig.proxy("POST", path, content=FORM, headers=key)
    assert (other.status_code, other.json()["error"]["type"]) == (409, "idempotency_conflict")
    assert len(rig.api.seen("/v1/payment_intents")) == 1


async def test_a_delete_passes_through_and_is_retried_as_safe(rig: Rig) -> None:
    deleted = {"id": "cus_1", "object": "customer", "deleted": True}
    rig.api.script("/v1/customers/cus_1", Canned(502, json={"error": {"type": "api_error"}}))
    rig.api.route("/v1/customers/cus_1", Canned(200, json=deleted))
    answer = await rig.proxy("DELETE", "/v1/proxy/stripe/v1/customers/cus_1")
    assert (answer.status_code, answer.json()) == (200, deleted)
    assert [s.method for s in rig.api.seen("/v1/customers/cus_1")] == ["DELETE", "DELETE"]


async def test_a_patch_carries_an_idempotency_key_where_the_provider_reads_them(
    rig: Rig,
) -> None:
    rig.api.route("/v1/customers/cus_1", Canned(200, json={"id": "cus_1"}))
    await rig.proxy(
        "PATCH", "/v1/proxy/stripe/v1/customers/cus_1", content=b"name=x", headers=FORM_TYPE
    )
    (seen,) = rig.api.seen("/v1/customers/cus_1")
    assert (seen.method, seen.body, len(seen.headers["idempotency-key"])) == (
        "PATCH",
        b"name=x",
        32,
    )


async def test_an_escaped_prefix_is_refused_rather_than_read_two_ways(rig: Rig) -> None:
    answer = await rig.proxy("GET", "/v1%2Fproxy/stripe/v1/customers")
    assert answer.status_code == 400
    assert rig.api.requests == []


@pytest.mark.parametrize(
    "header",
    [{"olactors-proxy-accept-encoding": b"br"}, {"olactors-proxy-x-note": "caf\u00e9".encode()}],
)
async def test_a_header_that_cannot_pass_as_sent_is_refused(
    rig: Rig, header: dict[str, str | bytes]
) -> None:
    answer = await rig.proxy("GET", "/v1/proxy/stripe/v1/customers", headers=header)
    assert answer.status_code == 400
    assert rig.api.requests == []
