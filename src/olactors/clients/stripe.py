"""Stripe: PaymentIntents and Events (form-encoded requests, Idempotency-Key on creates)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec

from ._client import ProviderClient


class PaymentIntent(msgspec.Struct, frozen=True):
    id: str
    amount: int
    currency: str
    status: str
    client_secret: str | None = None
    customer: str | None = None
    metadata: dict[str, str] = {}


class StripeEvent(msgspec.Struct, frozen=True):
    id: str
    type: str
    created: int
    data: dict[str, Any]
    api_version: str | None = None


def form(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys as ``metadata[order]``, lists as ``a[0]``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form(value, name)
        elif isinstance(value, list | tuple):
            for i, element in enumerate(value):
                pairs += form({str(i): element}, name)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


class StripeClient:
    """The Stripe calls the app needs. Every create carries an idempotency key
    (yours, or one made per call), so it is retried safely."""

    def __init__(self, client: ProviderClient) -> None:
        self.http = client

    async def create_payment_intent(
        self,
        amount: int,
        currency: str,
        *,
        customer: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> PaymentIntent:
        body = form({"amount": amount, "currency": currency, "customer": customer,
                     "metadata": dict(metadata or {}), **extra})  # fmt: skip
        response = await self.http.request(
            "POST",
            "/v1/payment_intents",
            endpoint="payment_intents.create",
            content=urlencode(body).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            idempotent=True,
            idempotency_key=idempotency_key,
        )
        return msgspec.json.decode(response.body, type=PaymentIntent)

    async def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent:
        response = await self.http.request(
            "GET", f"/v1/payment_intents/{intent_id}", endpoint="payment_intents.retrieve"
        )
        return msgspec.json.decode(response.body, type=PaymentIntent)

    async def retrieve_event(self, event_id: str) -> StripeEvent:
        response = await self.http.request(
            "GET", f"/v1/events/{event_id}", endpoint="events.retrieve"
        )
        return msgspec.json.decode(response.body, type=StripeEvent)
