"""A daemon with syncs, against a local fake of Stripe's list and events endpoints
(its paging, its event shapes, its failures) and of any paged JSON API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import trio

from olactors.config import Config
from olactors.runtime import ActorSystem
from olactors.testing import Canned, FakeProvider, Seen
from olactors.tree import build_tree

API_KEY = "app-key-for-sync-tests-0123456789"
ADMIN_TOKEN = "admin-token-for-sync-tests-0123456789"
STRIPE_KEY = "sk_test_sync_0123456789abcdefghij"
#: Stripe's clock in the fake: events are "created" from here on.
T0 = 1_800_000_000


def customer(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"cus_{n:04d}",
        "object": "customer",
        "name": f"Customer {n}",
        "email": f"c{n}@example.com",
        "metadata": {},
        **changes,
    }


@dataclass
class FakeStripe:
    """Customers, listed newest first as Stripe does, and the events that changed them.

    ``fail_after`` pages of a listing are answered, then 500s (while it is set).
    """

    server: FakeProvider = field(init=False)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    fail_after: int | None = None
    pages: int = 0
    #: Each listed page takes this long to come back.
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        self.server = FakeProvider(self._one)  # /v1/customers/<id>
        self.server.route("/v1/customers", self._list)
        self.server.route("/v1/events", self._events)

    def add(self, *records: dict[str, Any]) -> None:
        for record in records:
            self.customers[record["id"]] = record

    def change(self, record: dict[str, Any], kind: str = "customer.updated") -> None:
        """A change on Stripe's side, with its event."""
        if kind.endswith(".deleted"):
            self.customers.pop(record["id"], None)
        else:
            self.customers[record["id"]] = record
        created = T0 + len(self.events) + 1
        self.events.insert(
            0,
            {
                "id": f"evt_{len(self.events):04d}",
                "object": "event",
                "type": kind,
                "created": created,
                "data": {"object": record},
            },
        )

    def _list(self, request: Seen) -> Canned:
        query = dict(parse_qsl(request.query))
        if self.fail_after is not None and self.pages >= self.fail_after:
            return Canned(500, json={"error": {"type": "api_error", "message": "oops"}})
        self.pages += 1
        ordered = sorted(self.customers)
        after = query.get("starting_after")
        start = ordered.index(after) + 1 if after in ordered else 0
        limit = int(query.get("limit", "10"))
        chosen = ordered[start : start + limit]
        return Canned(
            200,
            json={
                "object": "list",
                "url": "/v1/customers",
                "has_more": start + limit < len(ordered),
                "data": [self.customers[c] for c in chosen],
            },
            delay_s=self.delay_s,
        )

    def _events(self, request: Seen) -> Canned:
        query = dict(parse_qsl(request.query))
        since = int(query.get("created[gte]", "0"))
        kinds = query.get("type", "*").removesuffix("*")
        found = [e for e in self.events if e["created"] >= since and e["type"].startswith(kinds)]
        after = query.get("starting_after")
        ids = [e["id"] for e in found]
        start = ids.index(after) + 1 if after in ids else 0
        limit = int(query.get("limit", "10"))
        return Canned(
            200,
            json={
                "object": "list",
                "has_more": start + limit < len(found),
                "data": found[start : start + limit],
            },
        )

    def _one(self, request: Seen) -> Canned:
        rid = request.path.removeprefix("/v1/customers/")
        if rid in self.customers:
            return Canned(200, json=self.customers[rid])
        return Canned(
            404, json={"error": {"type": "invalid_request_error", "code": "resource_missing"}}
        )


@dataclass
class Daemon:
    system: ActorSystem
    api_url: str
    admin_url: str
    public_url: str

    async def call(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api_url) as client:
            return await client.request(
                method,
                path,
                json=body,
                headers={"authorization": f"Bearer {API_KEY}", **(headers or {})},
            )

    async def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.admin_url) as client:
            return await client.request(
                method, path, json=body, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
            )

    async def run(self, sync: str, *, full: bool = False) -> dict[str, Any]:
        """Start a run and wait for it to end; its result."""
        started = await self.call("POST", f"/v1/sync/{sync}/runs" + ("?full=true" if full else ""))
        assert started.status_code == 202, started.text
        return await self.finished(sync, started.json()["id"])

    async def finished(self, sync: str, run: str) -> dict[str, Any]:
        with trio.fail_after(30):
            while True:
                answer = (await self.call("GET", f"/v1/sync/{sync}/runs/{run}")).json()
                if answer["status"] != "running":
                    return dict(answer)
                await trio.sleep(0.02)

    async def records(self, sync: str, cursor: str | None = None) -> dict[str, Any]:
        query = f"?cursor={cursor}" if cursor else ""
        answer = await self.call("GET", f"/v1/sync/{sync}/records{query}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def stripe_sync(**settings: Any) -> dict[str, Any]:
    return {"source": "stripe", "object": "customers", "every": "1h", "page_size": 2, **settings}


@asynccontextmanager
async def running(
    tmp_path: Path,
    syncs: Mapping[str, Any],
    providers: Mapping[str, Any],
    *,
    database_url: str | None = None,
    webhooks: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Daemon]:
    sync: dict[str, Any] = {"sqlite_path": str(tmp_path / "sync.db"), "syncs": dict(syncs)}
    if database_url is not None:
        sync["database_url"] = database_url
    config = Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "providers": dict(providers),
            "sync": sync,
            **({"webhooks": webhooks} if webhooks else {}),
        }
    )
    environment = {
        "OLACTORS_API_KEYS": API_KEY,
        "OLACTORS_ADMIN_TOKEN": ADMIN_TOKEN,
        "OLACTORS_SUBSCRIBER_KEY": "subscriber-key-0123456789abcdef0123456789",
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        **(env or {}),
    }
    system = ActorSystem(build_tree(config, environment))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)

        def address(listener: str) -> str:
            return str(system.actor_snapshot(f"/root/http/{listener}").state["addresses"][0])

        yield Daemon(system, address("api"), address("admin"), address("public"))
        system.shutdown()


@asynccontextmanager
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    stripe = FakeStripe()
    async with trio.open_nursery() as nursery:
        await nursery.start(stripe.server.serve)
        yield stripe
        nursery.cancel_scope.cancel()


def stripe_provider(stripe: FakeStripe, **settings: Any) -> dict[str, Any]:
    return {
        "stripe": {
            "base_url": stripe.server.url,
            "secret_env": "STRIPE_SECRET_KEY",
            "max_attempts": 1,
            **settings,
        }
    }


def event_body(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event).encode()
