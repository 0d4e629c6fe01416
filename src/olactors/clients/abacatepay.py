"""AbacatePay: billings (PIX and card charges), in its {"data", "error"} envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ._client import ProviderClient
from ._errors import ValidationError


class Billing(msgspec.Struct, frozen=True):
    id: str
    url: str | None = None
    amount: int | None = None
    status: str | None = None
    frequency: str | None = None
    methods: list[str] = []


class _Envelope(msgspec.Struct, frozen=True):
    data: Any = None
    error: Any = None


class AbacatePayClient:
    """The AbacatePay calls the app needs.

    AbacatePay documents no idempotency key, so a create is sent once and
    never retried: a failed create must be checked with ``list_billings``
    before it is sent again.
    """

    def __init__(self, client: ProviderClient) -> None:
        self.http = client

    async def create_billing(
        self,
        *,
        products: Sequence[dict[str, Any]],
        return_url: str,
        completion_url: str,
        methods: Sequence[str] = ("PIX",),
        frequency: str = "ONE_TIME",
        customer_id: str | None = None,
        **extra: Any,
    ) -> Billing:
        body: dict[str, Any] = {
            "frequency": frequency,
            "methods": list(methods),
            "products": list(products),
            "returnUrl": return_url,
            "completionUrl": completion_url,
            **extra,
        }
        if customer_id is not None:
            body["customerId"] = customer_id
        response = await self.http.request(
            "POST", "/v1/billing/create", endpoint="billing.create", json=body
        )
        return msgspec.convert(self._data(response.body), Billing)

    async def list_billings(self) -> list[Billing]:
        response = await self.http.request("GET", "/v1/billing/list", endpoint="billing.list")
        return msgspec.convert(self._data(response.body), list[Billing])

    def _data(self, body: bytes) -> Any:
        envelope = msgspec.json.decode(body, type=_Envelope)
        if envelope.error:
            # A 2xx with an error in the envelope is still a refusal.
            raise ValidationError(self.http.provider, str(envelope.error), status=200, body=body)
        return envelope.data
