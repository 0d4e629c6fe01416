"""The other ways records come in: a webhook naming one, any paged JSON API described in
config, and a connected user's Instagram media, with their token from the vault."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import trio

from olactors.testing import Canned, FakeProvider, Seen

from ..oauth.support import authorization_server, run_daemon
from .support import customer, fake_stripe, running, stripe_provider, stripe_sync

WEBHOOK_SECRET = "whsec_synctest0123456789abcdefghij"


def signed(body: bytes) -> dict[str, str]:
    now = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256)
    return {"Stripe-Signature": f"t={now},v1={mac.hexdigest()}"}


async def test_a_webhook_naming_a_customer_refreshes_that_customer_now(tmp_path: Path) -> None:
    webhooks = {
        "sources": {"stripe": {"kind": "stripe", "secrets_env": ["STRIPE_WEBHOOK_SECRET"]}},
        "routes": [
            {"source": "stripe", "events": ["customer.*"], "name": "refresh", "sync": "customers"}
        ],
    }
    async with fake_stripe() as stripe:
        stripe.add(customer(1))
        async with running(
            tmp_path,
            {"customers": stripe_sync()},
            stripe_provider(stripe),
            webhooks=webhooks,
            env={"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET},
        ) as daemon:
            await daemon.run("customers")
            stripe.change(customer(1, name="Changed at Stripe"))
            event = {
                "id": "evt_live_1",
                "object": "event",
                "type": "customer.updated",
                "data": {"object": {"id": "cus_0001", "object": "customer"}},
            }
            body = json.dumps(event).encode()
            async with httpx.AsyncClient(base_url=daemon.public_url) as client:
                taken = await client.post("/webhooks/stripe", content=body, headers=signed(body))
            assert taken.status_code == 200, taken.text
            with trio.fail_after(20):
                while True:
                    records = (await daemon.records("customers"))["records"]
                    if records[0]["data"]["name"] == "Changed at Stripe":
                        break
                    await trio.sleep(0.02)
    assert [s.path for s in stripe.server.requests][-1] == "/v1/customers/cus_0001"
    assert stripe.server.seen("/v1/events") == []  # not a whole run: that one customer


def pages(request: Seen) -> Canned:
    """A paged API: three things, two a page, cursors in meta.next."""
    things = [
        {"uuid": f"t-{n}", "title": f"Thing {n}", "modified": f"2026-11-0{n}T10:00:00Z"}
        for n in (1, 2, 3)
    ]
    query = dict(parse_qsl(request.query))
    start = int(query.get("page_token", "0"))
    following = start + 2 if start + 2 < len(things) else None
    return Canned(200, json={"results": things[start : start + 2], "meta": {"next": following}})


async def test_any_paged_json_api_is_read_as_its_config_describes(tmp_path: Path) -> None:
    api = FakeProvider()
    api.route("/v2/things", pages)
    syncs = {
        "things": {
            "source": "http",
            "provider": "things_api",
            "url": "/v2/things",
            "auth_env": "THINGS_TOKEN",
            "items_path": "results",
            "next_cursor_path": "meta.next",
            "cursor_param": "page_token",
            "id_path": "uuid",
            "updated_at_path": "modified",
        }
    }
    async with trio.open_nursery() as nursery:
        await nursery.start(api.serve)
        providers = {"things_api": {"base_url": api.url, "max_attempts": 1}}
        env = {"THINGS_TOKEN": "things-token-123"}
        async with running(tmp_path, syncs, providers, env=env) as daemon:
            result = await daemon.run("things")
            records = (await daemon.records("things"))["records"]
        nursery.cancel_scope.cancel()
    assert (result["status"], result["created"]) == ("succeeded", 3)
    assert [(r["id"], r["updated_at"]) for r in records] == [
        ("t-1", "2026-11-01T10:00:00Z"),
        ("t-2", "2026-11-02T10:00:00Z"),
        ("t-3", "2026-11-03T10:00:00Z"),
    ]
    first, second = api.seen("/v2/things")
    assert first.headers["authorization"] == "Bearer things-token-123"
    assert dict(parse_qsl(second.query)) == {"page_token": "2"}


MEDIA = json.loads((Path(__file__).parents[1] / "clients/fixtures/media_page_p1.json").read_text())


async def test_instagram_media_is_read_with_the_user_s_token_from_the_vault(
    tmp_path: Path,
) -> None:
    graph = FakeProvider()
    page = {**MEDIA, "paging": {"cursors": {"after": "end"}}}  # no next: the last page
    graph.route("/v21.0/me/media", Canned(200, json=page))
    sync = {
        "sqlite_path": str(tmp_path / "sync.db"),
        "syncs": {"media": {"source": "instagram", "user": "42", "every": "1h"}},
    }
    async with trio.open_nursery() as nursery, authorization_server() as auth:
        await nursery.start(graph.serve)
        providers = {"instagram": {"base_url": f"{graph.url}/v21.0", "max_attempts": 1}}
        extra: dict[str, Any] = {"sync": sync}
        async with run_daemon(tmp_path, auth, providers=providers, extra=extra) as daemon:
            await daemon.connect(auth, "instagram", user="42")
            started = await daemon.call("POST", "/v1/sync/media/runs")
            run = started.json()["id"]
            with trio.fail_after(20):
                while (result := (await daemon.call("GET", f"/v1/sync/media/runs/{run}")).json())[
                    "status"
                ] == "running":
                    await trio.sleep(0.02)
            token = (await daemon.call("GET", "/v1/connections/instagram/42")).json()
        nursery.cancel_scope.cancel()
    assert (result["status"], result["created"]) == ("succeeded", len(MEDIA["data"]))
    (seen,) = graph.seen("/v21.0/me/media")
    assert dict(parse_qsl(seen.query))["access_token"] == token["access_token"]


def test_a_route_naming_a_sync_that_does_not_exist_stops_the_start(tmp_path: Path) -> None:
    from olactors.config import Config, ConfigError
    from olactors.tree import build_tree

    config = Config.model_validate(
        {
            "daemon": {"state_dir": str(tmp_path)},
            "webhooks": {
                "sources": {"stripe": {"kind": "stripe", "secrets_env": ["S"]}},
                "routes": [{"source": "stripe", "events": ["*"], "sync": "orders"}],
            },
        }
    )
    with pytest.raises(ConfigError, match="names sync 'orders', which is not configured"):
        build_tree(config, {"S": WEBHOOK_SECRET})
