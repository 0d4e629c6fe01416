"""The event log on the admin listener and the shell: list, show, retry; routes steered."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from olactors.config import WebhooksConfig
from olactors.runtime import ActorSystem
from olactors.store import QueueItem
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config
from .test_admin_api import call
from .test_admin_commands import olactors

WHSEC = "whsec_eventsSecret0123456789abcdef"
seen: dict[str, int] = {}
app_is_down = [True]


async def flaky(item: QueueItem) -> None:
    """Fails the first attempt of each event."""
    seen[item.id] = seen.get(item.id, 0) + 1
    if seen[item.id] == 1:
        raise RuntimeError("not yet")


async def down(item: QueueItem) -> None:
    """An app that fails until the test brings it back."""
    if app_is_down[0]:
        raise RuntimeError("app is down")


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    seen.clear()
    app_is_down[0] = True
    webhooks = {
        "retry_schedule_s": [0.05],
        "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"]}},
        "routes": [
            {
                "name": "flaky",
                "source": "stripe",
                "events": ["flaky.*"],
                "handler": f"{__name__}:flaky",
            },
            {
                "name": "down",
                "source": "stripe",
                "events": ["down.*"],
                "handler": f"{__name__}:down",
            },
        ],
    }
    settings = config(tmp_path).model_copy(
        update={"webhooks": WebhooksConfig.model_validate(webhooks)}
    )
    system = ActorSystem(build_tree(settings, {"ADMIN_TOKEN": TOKEN, "WHSEC": WHSEC}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        yield Daemon(system, url)
        system.shutdown()


async def post(daemon: Daemon, event_id: str, event_type: str) -> None:
    public = daemon.system.actor_snapshot("/root/http/public").state["addresses"][0]
    body = json.dumps({"id": event_id, "type": event_type, "data": {}}).encode()
    now = int(time.time())
    signature = hmac.new(WHSEC.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    async with httpx.AsyncClient(base_url=public) as client:
        answer = await client.post(
            "/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": f"t={now},v1={signature}"},
        )
    assert answer.status_code == 200


async def settled(daemon: Daemon, event_id: str, status: str) -> dict[str, object]:
    with trio.fail_after(10):
        while True:
            answer = await call(daemon, "GET", f"/events/stripe/{event_id}")
            if answer.status_code == 200 and answer.json()["status"] == status:
                return dict(answer.json())
            await trio.sleep(0.02)


async def test_events_are_listed_newest_first_with_each_routes_state(daemon: Daemon) -> None:
    await post(daemon, "evt_1", "flaky.one")
    await post(daemon, "evt_2", "flaky.two")
    await settled(daemon, "evt_2", "delivered")
    await settled(daemon, "evt_1", "delivered")
    page = (await call(daemon, "GET", "/events?source=stripe")).json()
    assert [(e["id"], e["destinations"]) for e in page["items"]] == [
        ("evt_2", {"flaky": "delivered"}),
        ("evt_1", {"flaky": "delivered"}),
    ]
    assert page["next_cursor"] is None


async def test_events_are_filtered_by_type_and_route(daemon: Daemon) -> None:
    await post(daemon, "evt_1", "flaky.one")
    await post(daemon, "evt_2", "down.now")
    only = (await call(daemon, "GET", "/events?source=stripe&type=flaky.one")).json()
    assert [e["id"] for e in only["items"]] == ["evt_1"]
    routed = (await call(daemon, "GET", "/events?source=stripe&route=down")).json()
    assert [e["id"] for e in routed["items"]] == ["evt_2"]


async def test_an_event_shows_its_payload_and_every_attempt(daemon: Daemon) -> None:
    await post(daemon, "evt_1", "flaky.one")
    shown = await settled(daemon, "evt_1", "delivered")
    assert json.loads(str(shown["payload"]))["id"] == "evt_1"
    attempts = shown["attempts"]
    assert isinstance(attempts, list)
    assert [a["outcome"] for a in attempts] == ["error", "delivered"]
    assert "not yet" in attempts[0]["error"]


async def test_retrying_a_dead_event_delivers_it_once_the_app_is_back(daemon: Daemon) -> None:
    await post(daemon, "evt_1", "down.now")
    await settled(daemon, "evt_1", "dead")
    app_is_down[0] = False
    answer = await call(daemon, "POST", "/events/stripe/evt_1/retry")
    assert answer.json() == {"status": "retrying", "destinations": {"down": "replayed"}}
    await settled(daemon, "evt_1", "delivered")


async def test_listing_events_needs_a_source_and_an_unknown_event_is_a_404(
    daemon: Daemon,
) -> None:
    assert (await call(daemon, "GET", "/events")).status_code == 400
    assert (await call(daemon, "GET", "/events/stripe/evt_nope")).status_code == 404


async def test_events_are_listed_and_shown_from_the_shell(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await post(daemon, "evt_1", "flaky.one")
    await settled(daemon, "evt_1", "delivered")
    assert await olactors(daemon, cli_config, "events", "list", "--source", "stripe") == 0
    [header, row] = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert header == ["RECEIVED", "ID", "TYPE", "STATUS", "ROUTES"]
    assert row[1:] == ["evt_1", "flaky.one", "delivered", "flaky=delivered"]
    assert row[0].endswith("Z")  # an ISO time, not a unix number
    assert await olactors(daemon, cli_config, "events", "show", "stripe", "evt_1") == 0
    attempts = [line.split()[1:3] for line in capsys.readouterr().out.splitlines()]
    assert ["flaky", "error"] in attempts
    assert ["flaky", "delivered"] in attempts


async def test_an_event_is_retried_from_the_shell(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await post(daemon, "evt_1", "down.now")
    await settled(daemon, "evt_1", "dead")
    app_is_down[0] = False
    assert await olactors(daemon, cli_config, "events", "retry", "stripe", "evt_1") == 0
    assert capsys.readouterr().out.strip() == 'status=retrying destinations={"down": "replayed"}'
    await settled(daemon, "evt_1", "delivered")


async def test_a_route_is_paused_and_resumed_from_the_shell(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pause = ("routes", "pause", "stripe", "flaky", "--reason", "deploying")
    assert await olactors(daemon, cli_config, *pause) == 0
    capsys.readouterr()
    assert await olactors(daemon, cli_config, "routes", "list") == 0
    listed = capsys.readouterr().out
    assert "webhooks.stripe/flaky  paused (deploying)" in listed
    assert await olactors(daemon, cli_config, "routes", "resume", "stripe", "flaky") == 0
    capsys.readouterr()
    assert await olactors(daemon, cli_config, "routes", "list") == 0
    assert "webhooks.stripe/flaky  running" in capsys.readouterr().out


async def test_a_paused_route_makes_the_daemon_degraded_but_still_ready(
    daemon: Daemon, cli_config: Path
) -> None:
    pause = ("routes", "pause", "stripe", "flaky", "--reason", "deploying")
    assert await olactors(daemon, cli_config, *pause) == 0
    answer = await call(daemon, "GET", "/readyz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    [warning] = answer.json()["warnings"]
    assert warning.startswith("route webhooks.stripe/flaky: paused since 20")
    assert warning.endswith("Z (deploying)")


async def test_an_event_whose_id_holds_a_slash_is_shown_and_retried_from_the_shell(
    daemon: Daemon, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await post(daemon, "rWVY/mVk+90==", "flaky.one")  # base64, as SendGrid's ids are
    await settled(daemon, "rWVY%2FmVk%2B90%3D%3D", "delivered")
    assert await olactors(daemon, cli_config, "events", "show", "stripe", "rWVY/mVk+90==") == 0
    assert "id: rWVY/mVk+90==" in capsys.readouterr().out
    assert await olactors(daemon, cli_config, "events", "retry", "stripe", "rWVY/mVk+90==") == 0


late: list[str] = []


async def later(item: QueueItem) -> None:
    """A route added after its events arrived."""
    late.append(item.id)


def with_routes(tmp_path: Path, routes: list[dict[str, object]]) -> ActorSystem:
    webhooks = {
        "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"], "unrouted": "keep"}},
        "routes": routes,
    }
    settings = config(tmp_path).model_copy(
        update={"webhooks": WebhooksConfig.model_validate(webhooks)}
    )
    return ActorSystem(build_tree(settings, {"ADMIN_TOKEN": TOKEN, "WHSEC": WHSEC}))


async def running(system: ActorSystem, nursery: trio.Nursery) -> Daemon:
    await nursery.start(system.run)
    return Daemon(system, system.actor_snapshot("/root/http/admin").state["addresses"][0])


async def test_an_unrouted_event_kept_is_sent_once_a_route_takes_it(tmp_path: Path) -> None:
    late.clear()
    before = with_routes(tmp_path, [])
    async with trio.open_nursery() as nursery:
        daemon = await running(before, nursery)
        await post(daemon, "evt_1", "late.thing")
        assert (await settled(daemon, "evt_1", "unrouted"))["destinations"] == {}
        answer = await call(daemon, "POST", "/events/stripe/evt_1/retry")
        assert answer.status_code == 409
        before.shutdown()
    route = {
        "name": "later",
        "source": "stripe",
        "events": ["late.*"],
        "handler": f"{__name__}:later",
    }
    after = with_routes(tmp_path, [route])  # the operator adds the route, and restarts
    async with trio.open_nursery() as nursery:
        daemon = await running(after, nursery)
        answer = await call(daemon, "POST", "/events/stripe/evt_1/retry")
        assert answer.json() == {"status": "routed", "destinations": {"later": "queued"}}
        await settled(daemon, "evt_1", "delivered")
        after.shutdown()
    assert late == ["evt_1"]
