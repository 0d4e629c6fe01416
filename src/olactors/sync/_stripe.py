"""Stripe as a sync source: customers, payment intents or subscriptions.

A full run pages through the list endpoint (``starting_after`` the last id);
an incremental one through ``/v1/events`` created since the last run, the
objects as the events carry them (``*.deleted`` ones as deletions), which
is how Stripe reports changes (its objects have no updated-at of their own:
a listed object counts as seen when the run began).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ..clients import NotFound, ProviderClient
from ._source import Page, SourceError
from ._tables import Item

#: Each list's object name and the events that carry it.
OBJECTS = {
    "customers": ("customer", "customer.*"),
    "payment_intents": ("payment_intent", "payment_intent.*"),
    "subscriptions": ("subscription", "customer.subscription.*"),
}
#: Stripe's clock and ours may differ: events are asked from this much earlier
#: (what comes twice is the same record, not written twice).
CLOCK_SKEW_S = 300.0


class StripeSource:
    incremental = True
    targeted = True

    def __init__(self, client: ProviderClient, kind: str, page_size: int) -> None:
        self.client = client
        self.kind = kind
        self.object, self.events = OBJECTS[kind]
        self.page_size = page_size

    async def aclose(self) -> None:
        await self.client.aclose()

    async def page(self, cursor: str | None, since: float | None, started_at: float) -> Page:
        if since is None:
            return await self._listed(cursor, started_at)
        return await self._changed(cursor, since)

    async def _listed(self, cursor: str | None, started_at: float) -> Page:
        params: dict[str, Any] = {"limit": self.page_size}
        if self.kind == "subscriptions":
            params["status"] = "all"  # canceled ones too: they changed
        if cursor:
            params["starting_after"] = cursor
        body = await self._get(f"/v1/{self.kind}", params)
        objects = _objects(body)
        items = [Item(_id(obj), obj, updated_at=started_at) for obj in objects]
        more = bool(body.get("has_more")) and bool(items)
        return Page(items, items[-1].id if more else None)

    async def _changed(self, cursor: str | None, since: float) -> Page:
        params: dict[str, Any] = {
            "limit": self.page_size,
            "type": self.events,
            "created[gte]": int(since - CLOCK_SKEW_S),
        }
        if cursor:
            params["starting_after"] = cursor
        body = await self._get("/v1/events", params)
        events = _objects(body)
        items = []
        for event in events:
            obj = (event.get("data") or {}).get("object")
            if not isinstance(obj, dict) or obj.get("object") != self.object:
                continue  # customer.* also names a customer's sources and discounts
            deleted = str(event.get("type", "")).endswith(".deleted")
            items.append(Item(_id(obj), obj, updated_at=_created(event), deleted=deleted))
        more = bool(body.get("has_more")) and bool(events)
        return Page(items, _id(events[-1]) if more else None)

    async def fetch(self, ids: Sequence[str], started_at: float) -> list[Item]:
        found = []
        for rid in ids:
            try:
                obj = await self._get(f"/v1/{self.kind}/{quote(rid, safe='')}", {})
            except NotFound:
                found.append(Item(rid, {"id": rid}, updated_at=started_at, deleted=True))
                continue
            gone = bool(obj.get("deleted"))  # a deleted customer still answers, marked
            found.append(Item(_id(obj), obj, updated_at=started_at, deleted=gone))
        return found

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.request(
            "GET", path, endpoint=f"sync.{self.kind}", params=params, skip_cache=True
        )
        body = response.json()
        if not isinstance(body, dict):
            raise SourceError(f"stripe {path}: the answer is not a JSON object")
        return body


def _objects(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(obj, dict) for obj in data):
        raise SourceError("stripe: a list's data is not a list of objects")
    return data


def _id(obj: dict[str, Any]) -> str:
    rid = obj.get("id")
    if not isinstance(rid, str) or not rid:
        raise SourceError("stripe: an object without an id")
    return rid


def _created(event: dict[str, Any]) -> float | None:
    created = event.get("created")
    return float(created) if isinstance(created, int | float) else None
