"""A source's router: which destinations an event goes to, and under which order key."""

from __future__ import annotations

import json

from olactors.store import DROPPED, UNROUTED
from olactors.webhooks import Route, Router

ROUTES = [
    Route("to-app", ["payment_intent.*", "charge.refunded"]),
    Route("ledger", ["charge.*"], order_key="data.object.customer"),
]


def body(**data: object) -> bytes:
    return json.dumps({"id": "evt_1", "data": {"object": data}}).encode()


def test_an_event_goes_to_every_route_whose_pattern_matches() -> None:
    deliveries = Router("stripe", ROUTES).deliveries("charge.refunded", body())
    assert [(d.destination, d.queue) for d in deliveries] == [
        ("to-app", "d:webhooks.stripe:to-app"),
        ("ledger", "d:webhooks.stripe:ledger"),
    ]


def test_an_ordered_route_keys_its_delivery_by_the_configured_path() -> None:
    [delivery] = Router("stripe", ROUTES).deliveries("charge.succeeded", body(customer="cus_9"))
    assert (delivery.destination, delivery.order_key) == ("ledger", "cus_9")


def test_an_event_without_the_key_path_goes_unordered() -> None:
    [delivery] = Router("stripe", ROUTES).deliveries("charge.succeeded", body())
    assert delivery.order_key == ""


def test_an_unrouted_event_is_dropped_unless_the_source_keeps_it() -> None:
    assert Router("stripe", ROUTES).deliveries("customer.created", body()) == []
    assert Router("stripe", ROUTES).empty_status == DROPPED
    assert Router("stripe", ROUTES, unrouted="keep").empty_status == UNROUTED
