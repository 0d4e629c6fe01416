"""Each provider's client against a local stand-in that answers with the provider's own payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import trio

from olactors.clients import (
    AuthFailure,
    ClientSettings,
    ProviderClient,
    ProviderError,
    RateLimitError,
    ServerError,
    ValidationError,
    instagram,
)
from olactors.clients.abacatepay import AbacatePayClient
from olactors.clients.google import GoogleClient
from olactors.clients.instagram import InstagramClient
from olactors.clients.sendgrid import SendGridClient
from olactors.clients.stripe import StripeClient
from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.testing import Canned, FakeProvider

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def entry(name: str, prefix: str) -> Any:
    return next(v for k, v in fixture(name).items() if k.startswith(prefix))


MakeClient = Callable[..., ProviderClient]


@pytest.fixture
async def make() -> AsyncIterator[tuple[FakeProvider, MakeClient]]:
    """A fake provider and a factory of clients for it (base path configurable)."""
    async with trio.open_nursery() as nursery:
        provider = FakeProvider()
        await nursery.start(provider.serve)
        limits = {
            "p": (
                RateLimit(rate_per_s=1000, burst=100),
                BreakerSettings(window_size=100, minimum_calls=50),
            )
        }
        system = ActorSystem(SupervisorSpec("root", children=[resilience_spec(limits)]))
        await nursery.start(system.run)
        guard = ProviderGuard.at(system, "/root/resilience", "p")
        made: list[ProviderClient] = []

        def client(path: str = "", **options: Any) -> ProviderClient:
            settings = ClientSettings(
                base_url=provider.url + path, max_attempts=3, backoff_initial_s=0.01
            )
            made.append(ProviderClient("p", settings, guard, **options))
            return made[-1]

        yield provider, client
        for c in made:
            await c.aclose()
        system.shutdown()
        nursery.cancel_scope.cancel()


# -- Stripe ------------------------------------------------------------------------------


async def test_stripe_creates_a_payment_intent_form_encoded_with_an_idempotency_key(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    intent = fixture("payment_intent_docs_example.json")
    provider.script("/v1/payment_intents", Canned(500), Canned(200, json=intent))
    stripe = StripeClient(client())
    created = await stripe.create_payment_intent(2000, "usd", metadata={"order": "42"})
    assert (created.id, created.amount, created.status) == (intent["id"], 2000, intent["status"])
    first, second = provider.seen("/v1/payment_intents")
    assert dict(parse_qsl(first.body.decode())) == {
        "amount": "2000",
        "currency": "usd",
        "metadata[order]": "42",
    }
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


async def test_a_declined_card_is_a_validation_error_with_stripes_body(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    provider.route("/v1/payment_intents", Canned(402, json=fixture("card_declined.json")))
    with pytest.raises(ValidationError) as caught:
        await StripeClient(client()).create_payment_intent(2000, "usd")
    assert caught.value.json()["error"]["decline_code"] == "generic_decline"
    assert len(provider.requests) == 1


async def test_stripe_rate_limiting_is_retried_then_reported(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    provider.route("/v1/events/evt_1", Canned(429, json=fixture("rate_limit_429.json")))
    with pytest.raises(RateLimitError) as caught:
        await StripeClient(client()).retrieve_event("evt_1")
    assert caught.value.json()["error"]["code"] == "rate_limit"
    assert len(provider.requests) == 3


async def test_stripe_retrieves_an_event(make: tuple[FakeProvider, MakeClient]) -> None:
    provider, client = make
    event = fixture("payment_intent.succeeded.json")
    provider.route(f"/v1/events/{event['id']}", Canned(200, json=event))
    got = await StripeClient(client()).retrieve_event(event["id"])
    assert (got.type, got.data["object"]["object"]) == (
        "payment_intent.succeeded",
        "payment_intent",
    )


# -- AbacatePay ------------------------------------------------------------------------


async def test_abacatepay_creates_a_billing_and_never_retries_the_create(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    provider.script("/v1/billing/create", Canned(502))
    abacate = AbacatePayClient(client())
    products = [{"externalId": "p1", "name": "Plan", "quantity": 1, "price": 1000}]
    with pytest.raises(ServerError):
        await abacate.create_billing(
            products=products, return_url="https://a/r", completion_url="https://a/c"
        )
    assert len(provider.seen("/v1/billing/create")) == 1
    billing = {"id": "bill_123", "url": "https://pay/bill_123", "amount": 1000, "status": "PENDING"}
    provider.route("/v1/billing/create", Canned(200, json={"data": billing, "error": None}))
    created = await abacate.create_billing(
        products=products, return_url="https://a/r", completion_url="https://a/c"
    )
    assert (created.id, created.status) == ("bill_123", "PENDING")
    assert provider.seen("/v1/billing/create")[-1].json()["returnUrl"] == "https://a/r"


async def test_an_abacatepay_envelope_error_is_a_refusal(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    provider.route("/v1/billing/list", Canned(200, json={"data": None, "error": "Invalid key"}))
    with pytest.raises(ValidationError, match="Invalid key"):
        await AbacatePayClient(client()).list_billings()


# -- SendGrid ------------------------------------------------------------------------


async def test_sendgrid_sends_mail_and_returns_the_message_id(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    provider.route("/v3/mail/send", Canned(202, headers={"X-Message-Id": "msg-1"}))
    message = fixture("sendgrid_request_no_template.json")
    assert await SendGridClient(client()).send_mail(message) == "msg-1"
    assert provider.seen("/v3/mail/send")[0].json() == message


async def test_a_sendgrid_send_is_never_retried_and_a_401_keeps_its_body(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    raw = entry("sendgrid_error_bodies.json", "real_401_raw")
    provider.script("/v3/mail/send", Canned(503), Canned(401, body=raw.encode()))
    sendgrid = SendGridClient(client())
    with pytest.raises(ServerError):
        await sendgrid.send_mail({"subject": "x"})
    with pytest.raises(AuthFailure) as caught:
        await sendgrid.send_mail({"subject": "x"})
    assert caught.value.body == raw.encode()
    assert len(provider.requests) == 2


# -- Instagram -----------------------------------------------------------------------


def media_pages(provider: FakeProvider) -> None:
    first = fixture("media_page_p1.json")
    first["paging"]["next"] = f"{provider.url}/v21.0/17841406338772941/media?after=after"
    provider.script("/v21.0/17841406338772941/media", Canned(200, json=first))
    provider.script(
        "/v21.0/17841406338772941/media", Canned(200, json=fixture("media_page_p2.json"))
    )


async def test_instagram_media_follows_the_pages_to_the_end(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    media_pages(provider)
    graph = InstagramClient(client("/v21.0", classify=instagram.classify))
    media = [m async for m in graph.user_media("17841406338772941", "token-1", limit=2)]
    expected = fixture("media_page_p1.json")["data"] + fixture("media_page_p2.json")["data"]
    assert [m.id for m in media] == [m["id"] for m in expected]
    first, second = provider.seen("/v21.0/17841406338772941/media")
    assert dict(parse_qsl(first.query))["access_token"] == "token-1"
    assert second.query == "after=after"


async def test_instagram_will_not_follow_paging_to_another_host(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    page = fixture("media_page_p1.json")  # its next link points at graph.facebook.com
    provider.route("/v21.0/1/media", Canned(200, json=page))
    graph = InstagramClient(client("/v21.0", classify=instagram.classify))
    with pytest.raises(ProviderError, match="refusing to follow paging"):
        _ = [m async for m in graph.user_media("1", "token")]


@pytest.mark.parametrize(
    ("sample", "status", "error", "attempts"),
    [
        ("docs_generic_error", 400, AuthFailure, 1),
        ("docs_platform_rate_limit_sample_code_32", 403, RateLimitError, 3),
        ("docs_buc_rate_limit_sample_code_80001", 400, RateLimitError, 3),
        ("real_error_code_100 ", 400, ValidationError, 1),
    ],
)
async def test_meta_error_codes_decide_the_error_class(
    make: tuple[FakeProvider, MakeClient],
    sample: str,
    status: int,
    error: type[Exception],
    attempts: int,
) -> None:
    provider, client = make
    provider.route("/v21.0/1/media", Canned(status, json=entry("instagram_errors.json", sample)))
    graph = InstagramClient(client("/v21.0", classify=instagram.classify))
    with pytest.raises(error):
        _ = [m async for m in graph.user_media("1", "token")]
    assert len(provider.requests) == attempts


# -- Google --------------------------------------------------------------------------


async def test_google_userinfo_is_read_with_the_users_token(
    make: tuple[FakeProvider, MakeClient],
) -> None:
    provider, client = make
    claims = entry("userinfo_examples.json", "oidc_core")
    provider.route("/oauth2/v3/userinfo", Canned(200, json=claims))
    info = await GoogleClient(client()).userinfo("ya29.user-token")
    assert (info.sub, info.email, info.name) == (claims["sub"], claims["email"], claims["name"])
    assert provider.requests[0].headers["authorization"] == "Bearer ya29.user-token"
