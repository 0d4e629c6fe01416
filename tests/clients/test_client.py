"""The resilient client against a local provider over real HTTP: retries, errors, cache."""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing

from olactors import metrics
from olactors.clients import (
    AuthFailure,
    ClientSettings,
    NetworkError,
    NotFound,
    ProviderClient,
    ProviderTimeout,
    RateLimitError,
    ServerError,
    ValidationError,
)
from olactors.resilience import (
    BreakerSettings,
    CircuitOpen,
    ProviderGuard,
    RateLimit,
    resilience_spec,
)
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.testing import Canned, FakeProvider

from .conftest import Rig

OK = Canned(200, json={"ok": True})


async def test_a_get_is_retried_after_a_server_error(rig: Rig) -> None:
    rig.provider.script("/v1/things", Canned(503), OK)
    response = await rig.client.request("GET", "/v1/things", endpoint="things")
    assert response.json() == {"ok": True}
    assert len(rig.provider.seen("/v1/things")) == 2


async def test_a_get_is_retried_after_a_connection_reset(rig: Rig) -> None:
    rig.provider.script("/v1/things", Canned(reset=True), OK)
    response = await rig.client.request("GET", "/v1/things", endpoint="things")
    assert response.status == 200


async def test_a_post_without_an_idempotency_key_is_never_retried(rig: Rig) -> None:
    rig.provider.script("/v1/charges", Canned(500, json={"error": "boom"}), OK)
    with pytest.raises(ServerError) as caught:
        await rig.client.request("POST", "/v1/charges", endpoint="charges", json={"amount": 1})
    assert len(rig.provider.seen("/v1/charges")) == 1
    assert caught.value.json() == {"error": "boom"}


async def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(rig: Rig) -> None:
    rig.provider.script("/v1/charges", Canned(500), Canned(reset=True), OK)
    await rig.client.request(
        "POST", "/v1/charges", endpoint="charges", json={"amount": 1}, idempotent=True
    )
    keys = [r.headers["idempotency-key"] for r in rig.provider.seen("/v1/charges")]
    assert len(keys) == 3
    assert len(set(keys)) == 1


async def test_each_logical_call_gets_its_own_idempotency_key(rig: Rig) -> None:
    rig.provider.route("/v1/charges", OK)
    for _ in range(2):
        await rig.client.request("POST", "/v1/charges", endpoint="charges", idempotent=True)
    keys = {r.headers["idempotency-key"] for r in rig.provider.seen("/v1/charges")}
    assert len(keys) == 2


async def test_an_auth_failure_is_never_retried_and_keeps_the_providers_body(rig: Rig) -> None:
    body = {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
    rig.provider.script("/v1/things", Canned(401, json=body), OK)
    with pytest.raises(AuthFailure) as caught:
        await rig.client.request("GET", "/v1/things", endpoint="things")
    assert len(rig.provider.seen("/v1/things")) == 1
    assert caught.value.json() == body
    assert (caught.value.kind, caught.value.status) == ("auth_failure", 401)


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFound), (400, ValidationError), (422, ValidationError), (402, ValidationError)],
)
async def test_client_errors_are_classified_and_not_retried(
    rig: Rig, status: int, error: type[Exception]
) -> None:
    rig.provider.route("/v1/x", Canned(status, json={"error": "nope"}))
    with pytest.raises(error):
        await rig.client.request("GET", "/v1/x", endpoint="x")
    assert len(rig.provider.seen("/v1/x")) == 1


async def test_a_slow_answer_is_a_timeout_retried_then_reported(rig: Rig) -> None:
    rig.provider.route("/v1/slow", Canned(200, delay_s=2))
    with pytest.raises(ProviderTimeout):
        await rig.client.request("GET", "/v1/slow", endpoint="slow")
    assert len(rig.provider.seen("/v1/slow")) == 3


async def test_a_429_is_retried_after_its_retry_after(rig: Rig) -> None:
    rig.provider.script("/v1/things", Canned(429, headers={"Retry-After": "1"}), OK)
    began = trio.current_time()
    await rig.client.request("GET", "/v1/things", endpoint="things")
    first, second = rig.provider.seen("/v1/things")
    assert trio.current_time() - began >= 1.0
    assert first.path == second.path


async def test_a_429_on_every_attempt_ends_in_rate_limit_error(rig: Rig) -> None:
    rig.provider.route("/v1/things", Canned(429, headers={"Retry-After": "0"}))
    with pytest.raises(RateLimitError):
        await rig.client.request("GET", "/v1/things", endpoint="things")


async def test_repeated_failures_open_the_breaker_and_calls_then_fail_fast(rig: Rig) -> None:
    rig.provider.route("/v1/down", Canned(502))
    with pytest.raises(ServerError):
        await rig.client.request("GET", "/v1/down", endpoint="down")  # 3 failed attempts
    with pytest.raises(CircuitOpen):
        await rig.client.request("GET", "/v1/down", endpoint="down")  # the 4th opens it
    sent = len(rig.provider.requests)
    with pytest.raises(CircuitOpen):
        await rig.client.request("GET", "/v1/down", endpoint="down")
    assert len(rig.provider.requests) == sent


async def test_a_get_is_served_from_the_cache_until_it_expires(rig: Rig) -> None:
    rig.provider.route("/v1/me", OK)

    def hits() -> float:
        labels = {"provider": "acme", "result": "hit"}
        return metrics.REGISTRY.get_sample_value("olactors_client_cache_total", labels) or 0.0

    before = hits()
    first = await rig.client.request("GET", "/v1/me", endpoint="me")
    second = await rig.client.request("GET", "/v1/me", endpoint="me")
    assert (first.cached, second.cached) == (False, True)
    assert hits() == before + 1
    await trio.sleep(0.4)
    third = await rig.client.request("GET", "/v1/me", endpoint="me")
    assert third.cached is False
    assert len(rig.provider.seen("/v1/me")) == 2


async def test_skip_cache_goes_to_the_provider(rig: Rig) -> None:
    rig.provider.route("/v1/me", OK)
    await rig.client.request("GET", "/v1/me", endpoint="me")
    fresh = await rig.client.request("GET", "/v1/me", endpoint="me", skip_cache=True)
    assert fresh.cached is False
    assert len(rig.provider.seen("/v1/me")) == 2


async def test_different_credentials_never_share_a_cached_answer(rig: Rig) -> None:
    rig.provider.route("/v1/me", OK)
    await rig.client.request("GET", "/v1/me", endpoint="me", headers={"Authorization": "Bearer a"})
    other = await rig.client.request(
        "GET", "/v1/me", endpoint="me", headers={"Authorization": "Bearer b"}
    )
    assert other.cached is False


async def test_usage_headers_slow_the_limiter_down(rig: Rig) -> None:
    usage = '{"call_count":95,"total_cputime":15,"total_time":12}'
    rig.provider.route("/v1/media", Canned(200, json={"data": []}, headers={"X-App-Usage": usage}))
    await rig.client.request("GET", "/v1/media", endpoint="media")
    await trio.testing.wait_all_tasks_blocked()
    limiter = rig.system.actor_snapshot("/root/resilience/acme/limiter").state
    assert limiter["slowdown"] == pytest.approx(5.0)


async def test_a_network_failure_is_reported_as_network_error(rig: Rig) -> None:
    rig.provider.route("/v1/gone", Canned(reset=True))
    with pytest.raises(NetworkError) as caught:
        await rig.client.request("GET", "/v1/gone", endpoint="gone")
    assert isinstance(caught.value.__cause__, httpx.TransportError)


async def test_a_cancelled_call_gives_its_half_open_trial_back() -> None:
    quick = BreakerSettings(window_size=4, minimum_calls=4, open_s=0.2, half_open_calls=1)
    async with trio.open_nursery() as nursery:
        provider = FakeProvider()
        await nursery.start(provider.serve)
        limits = {"acme": (RateLimit(rate_per_s=1000, burst=100), quick)}
        system = ActorSystem(SupervisorSpec("root", children=[resilience_spec(limits)]))
        await nursery.start(system.run)
        guard = ProviderGuard.at(system, "/root/resilience", "acme")
        settings = ClientSettings(base_url=provider.url, max_attempts=1)
        async with ProviderClient("acme", settings, guard) as client:
            provider.route("/down", Canned(502))
            for _ in range(4):
                with pytest.raises(ServerError):
                    await client.request("GET", "/down", endpoint="down")
            await trio.sleep(0.3)  # open time over: one trial may go
            provider.route("/slow", Canned(200, json={}, delay_s=5))
            with trio.move_on_after(0.2):
                await client.request("GET", "/slow", endpoint="slow")  # the trial, cancelled
            provider.route("/up", OK)
            # The trial slot came back at once: the next call is the trial and closes it.
            await client.request("GET", "/up", endpoint="up")
            await trio.testing.wait_all_tasks_blocked()
            state = system.actor_snapshot("/root/resilience/acme/breaker").state
        assert state["state"] == "closed"
        system.shutdown()
        nursery.cancel_scope.cancel()


# httpx leaves its body generators to the garbage collector when a body fails
# to decode (trio then warns); the behaviour under test is ours, not that.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_an_answer_that_cannot_be_decoded_is_a_network_error(rig: Rig) -> None:
    broken = Canned(200, body=b"not gzip", headers={"Content-Encoding": "gzip"})
    rig.provider.route("/v1/gz", broken)
    with pytest.raises(NetworkError):
        await rig.client.request("GET", "/v1/gz", endpoint="gz")


async def test_a_retry_after_longer_than_the_cap_is_returned_not_slept_on(rig: Rig) -> None:
    rig.provider.route("/v1/x", Canned(429, headers={"Retry-After": "3600"}))
    with trio.fail_after(5), pytest.raises(RateLimitError) as caught:
        await rig.client.request("GET", "/v1/x", endpoint="x")
    assert caught.value.retry_after_s == 3600
    assert len(rig.provider.seen("/v1/x")) == 1


async def test_any_credential_header_keeps_cached_answers_apart(rig: Rig) -> None:
    rig.provider.route("/v1/me", lambda seen: Canned(200, json={"who": seen.headers["x-api-key"]}))
    alice = await rig.client.request("GET", "/v1/me", endpoint="me", headers={"X-Api-Key": "alice"})
    bob = await rig.client.request("GET", "/v1/me", endpoint="me", headers={"X-Api-Key": "bob"})
    assert (alice.json(), bob.json()) == ({"who": "alice"}, {"who": "bob"})
