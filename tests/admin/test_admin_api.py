"""The admin listener over real HTTP: token, the actor tree, restarts, probes, metrics."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from olactors.config import Config, ConfigError, WebhooksConfig
from olactors.runtime import ActorSystem, Backoff, SupervisorSpec
from olactors.store import QueueCounts, Store
from olactors.testing import Canned, FakeProvider
from olactors.tree import build_tree

from ..runtime.support import Boom, Journal, recorder
from .daemon import TOKEN, Daemon, config, dead_letter


async def call(daemon: Daemon, method: str, path: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        return await client.request(method, path, headers=headers)


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x"])
async def test_every_admin_call_needs_the_token(daemon: Daemon, token: str | None) -> None:
    for path in ("/actors", "/healthz", "/metrics"):
        assert (await call(daemon, "GET", path, token)).status_code == 401


async def test_the_actor_tree_shows_every_subsystem(daemon: Daemon) -> None:
    tree = (await call(daemon, "GET", "/actors")).json()
    assert tree["path"] == "/root"
    names = [c["name"] for c in tree["children"]]
    assert names == [
        "store",
        "resilience",
        "presence",
        "sync",
        "delivery",
        "broadcast",
        "oauth",
        "storage",
        "http",
    ]


async def test_one_actor_shows_its_inspect_state(daemon: Daemon) -> None:
    writer = (await call(daemon, "GET", "/actors/root/store/writer")).json()
    assert (writer["kind"], writer["status"]) == ("StoreActor", "running")
    assert writer["state"]["journal_mode"] == "wal"
    assert (await call(daemon, "GET", "/actors/root/nothing")).status_code == 404


async def test_restarting_an_actor_is_seen_in_the_tree(daemon: Daemon) -> None:
    answer = await call(daemon, "POST", "/actors/root/store/reader/restart")
    assert answer.json() == {"status": "restarted", "path": "/root/store/reader"}
    reader = (await call(daemon, "GET", "/actors/root/store/reader")).json()
    assert (reader["restarts_total"], reader["status"]) == (1, "running")


async def test_health_and_readiness(daemon: Daemon) -> None:
    assert (await call(daemon, "GET", "/healthz")).json() == {"status": "alive"}
    ready = (await call(daemon, "GET", "/readyz")).json()
    assert ready == {"status": "ready", "problems": [], "warnings": []}


async def test_metrics_parse_as_prometheus_text_and_carry_every_series(daemon: Daemon) -> None:
    await dead_letter(daemon)
    text = (await call(daemon, "GET", "/metrics")).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {
        "olactors_ingress_requests",
        "olactors_queue_items",
        "olactors_processing_seconds",
        "olactors_delivery_retries",
        "olactors_dead_letters",
        "olactors_mailbox_depth",
        "olactors_actor_restarts",
        "olactors_breaker_state",
        "olactors_limiter_wait_seconds",
        "olactors_client_request_duration_seconds",
    } <= set(families)
    dead = [
        s.value
        for s in families["olactors_queue_items"].samples
        if s.labels == {"queue": "stripe", "state": "dead"}
    ]
    assert dead == [1.0]
    mailboxes = {s.labels["path"] for s in families["olactors_mailbox_depth"].samples}
    assert "/root/store/writer" in mailboxes


async def test_an_actor_removed_from_the_tree_leaves_no_series_behind(daemon: Daemon) -> None:
    def scraped_paths(text: str) -> set[str]:
        families = text_string_to_metric_families(text)
        return {
            s.labels["path"]
            for f in families
            if f.name == "olactors_mailbox_depth"
            for s in f.samples
        }

    http = daemon.system.supervisor("/root/http")
    await http.start_child(recorder("passing", Journal()))
    assert "/root/http/passing" in scraped_paths((await call(daemon, "GET", "/metrics")).text)
    await http.remove_child("passing")
    assert "/root/http/passing" not in scraped_paths((await call(daemon, "GET", "/metrics")).text)


async def test_open_probes_answer_without_the_token(tmp_path: Path) -> None:
    system = ActorSystem(build_tree(config(tmp_path, open_probes=True), {"ADMIN_TOKEN": TOKEN}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        daemon = Daemon(system, url)
        assert (await call(daemon, "GET", "/healthz", token=None)).status_code == 200
        assert (await call(daemon, "GET", "/metrics", token=None)).status_code == 200
        assert (await call(daemon, "GET", "/actors", token=None)).status_code == 401
        system.shutdown()


def test_the_admin_is_never_exposed_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="refusing to expose the admin listener"):
        build_tree(config(tmp_path, bind="0.0.0.0:8081"), {})


async def test_breakers_and_limiters_are_listed_by_provider(daemon: Daemon) -> None:
    breakers = (await call(daemon, "GET", "/breakers")).json()
    limiters = (await call(daemon, "GET", "/limiters")).json()
    assert breakers["stripe"]["state"] == "closed"
    assert limiters["stripe"]["rate_per_s"] == 20.0
    assert set(breakers) == set(limiters) == set(Config().providers)


async def test_a_breaker_is_reset_by_hand(daemon: Daemon) -> None:
    answer = await call(daemon, "POST", "/breakers/stripe/reset")
    assert answer.json() == {"status": "reset", "provider": "stripe"}
    assert (await call(daemon, "POST", "/breakers/nobody/reset")).status_code == 404


async def test_queues_show_their_counts(daemon: Daemon) -> None:
    await dead_letter(daemon)
    counts = (await call(daemon, "GET", "/queues")).json()
    assert counts == {"stripe": {"ready": 0, "leased": 0, "delayed": 0, "dead": 1, "held": 0}}


async def test_a_dead_letter_is_listed_shown_replayed_and_gone_from_the_list(
    daemon: Daemon,
) -> None:
    item_id = await dead_letter(daemon)
    listed = (await call(daemon, "GET", "/dead-letters?queue=stripe")).json()
    assert [d["id"] for d in listed["items"]] == [item_id]
    shown = (await call(daemon, "GET", f"/dead-letters/{item_id}?queue=stripe")).json()
    assert (shown["payload"], shown["last_error"]) == ('{"id":"evt_dead"}', "app answered 500")
    replayed = await call(daemon, "POST", f"/dead-letters/{item_id}/replay?queue=stripe")
    assert replayed.json() == {"status": "replayed"}
    assert (await call(daemon, "GET", f"/dead-letters/{item_id}?queue=stripe")).status_code == 404


async def test_a_dead_letter_is_deleted(daemon: Daemon) -> None:
    item_id = await dead_letter(daemon)
    assert (
        await call(daemon, "DELETE", f"/dead-letters/{item_id}?queue=stripe")
    ).status_code == 200
    assert (await call(daemon, "GET", "/queues")).json() == {}


async def test_all_dead_letters_of_a_queue_are_replayed_at_once(daemon: Daemon) -> None:
    await dead_letter(daemon)
    answer = await call(daemon, "POST", "/dead-letters/replay?queue=stripe")
    assert answer.json() == {"status": "replayed", "count": 1}


async def test_a_dead_letters_query_without_a_queue_is_a_400(daemon: Daemon) -> None:
    assert (await call(daemon, "GET", "/dead-letters")).status_code == 400
    assert (await call(daemon, "GET", "/dead-letters?queue=stripe&limit=x")).status_code == 400


async def test_a_dead_letter_replayed_through_the_api_is_delivered(tmp_path: Path) -> None:
    destination = FakeProvider(Canned(500))  # the app is down: every attempt fails
    async with trio.open_nursery() as nursery:
        await nursery.start(destination.serve)
        webhooks = {
            "retry_schedule_s": [0.01],
            "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"]}},
            "routes": [
                {
                    "name": "to-app",
                    "source": "stripe",
                    "events": ["*"],
                    "forward_to": f"{destination.url}/hooks",
                    "signing_secret_env": "APP_SECRET",
                }
            ],
        }
        settings = config(tmp_path).model_copy(
            update={"webhooks": WebhooksConfig.model_validate(webhooks)}
        )
        env = {
            "ADMIN_TOKEN": TOKEN,
            "WHSEC": "whsec_xStripeSecret0123456789abcdef",
            "APP_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }
        system = ActorSystem(build_tree(settings, env))
        async with trio.open_nursery() as daemon_nursery:
            await daemon_nursery.start(system.run)
            admin = system.actor_snapshot("/root/http/admin").state["addresses"][0]
            public = system.actor_snapshot("/root/http/public").state["addresses"][0]
            body = b'{"id":"evt_replay","type":"invoice.paid"}'
            now = int(time.time())
            signature = hmac.new(
                b"whsec_xStripeSecret0123456789abcdef", f"{now}.".encode() + body, hashlib.sha256
            ).hexdigest()
            headers = {"Stripe-Signature": f"t={now},v1={signature}"}
            async with httpx.AsyncClient(base_url=public) as client:
                stored = await client.post("/webhooks/stripe", content=body, headers=headers)
            assert stored.is_success
            store = Store.at(system, "/root/store")
            with trio.fail_after(20):
                while (await store.counts(QUEUE)).dead == 0:
                    await trio.sleep(0.02)
            failed = len(destination.seen("/hooks"))
            destination.route("/hooks", Canned(200, json={"ok": True}))  # the app is fixed
            replay = f"/dead-letters/evt_replay/replay?queue={QUEUE}"
            answer = await call(Daemon(system, admin), "POST", replay)
            assert answer.json() == {"status": "replayed"}
            with trio.fail_after(20):
                while not _drained(await store.counts(QUEUE)):
                    await trio.sleep(0.02)
            delivered = destination.seen("/hooks")[failed:]
            assert [json.loads(seen.body)["id"] for seen in delivered] == ["evt_replay"]
            system.shutdown()
        nursery.cancel_scope.cancel()  # the daemon has stopped: now the destination


QUEUE = "d:webhooks.stripe:to-app"


def _drained(counts: QueueCounts) -> bool:
    return counts.ready + counts.leased + counts.delayed + counts.dead == 0


async def test_the_tree_shows_an_actor_that_crashed_and_was_restarted(tmp_path: Path) -> None:
    # The daemon's own tree plus one actor that crashes on demand: our actors
    # are built not to crash, so the test brings its own.
    spec = build_tree(config(tmp_path), {"ADMIN_TOKEN": TOKEN})
    spec = dataclasses.replace(spec, children=[*spec.children, recorder("fragile", Journal())])
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        daemon = Daemon(system, system.actor_snapshot("/root/http/admin").state["addresses"][0])
        await system.actor_ref("/root/fragile").tell(Boom("kaput"))
        # The message crashes each of three incarnations (it is redelivered),
        # then is dead-lettered as poison: three restarts, and no more after.
        with trio.fail_after(20):
            fragile = (await call(daemon, "GET", "/actors/root/fragile")).json()
            while fragile["restarts_total"] < 3 or fragile["status"] != "running":
                await trio.sleep(0.02)
                fragile = (await call(daemon, "GET", "/actors/root/fragile")).json()
        assert fragile["last_error"]["type"] == "ValueError"
        assert fragile["last_error"]["message"] == "kaput"
        tree = (await call(daemon, "GET", "/actors")).json()
        listed = next(child for child in tree["children"] if child["name"] == "fragile")
        assert listed["restarts_total"] == 3
        assert tree["status"] == "running"
        assert tree["restarts_total"] == 0
        system.shutdown()


async def test_a_crash_looping_actor_makes_the_daemon_not_ready(tmp_path: Path) -> None:
    # Under a supervisor generous enough never to escalate: only the loop shows.
    loop = SupervisorSpec(
        "loop",
        children=[recorder("fragile", Journal(), max_message_crashes=1)],
        max_restarts=100,
        backoff=Backoff(initial_s=0.0, max_s=0.0, max_tries=None),
    )
    spec = build_tree(config(tmp_path), {"ADMIN_TOKEN": TOKEN})
    spec = dataclasses.replace(spec, children=[*spec.children, loop])
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        daemon = Daemon(system, system.actor_snapshot("/root/http/admin").state["addresses"][0])
        ref = system.actor_ref("/root/loop/fragile")
        for n in range(3):
            await ref.tell(Boom(f"crash {n}"))
            with trio.fail_after(20):
                while system.snapshot("/root/loop/fragile").restarts_total <= n:
                    await trio.sleep(0.01)
        ready = await call(daemon, "GET", "/readyz")
        assert ready.status_code == 503
        assert ready.json()["problems"] == [
            "/root/loop/fragile is crash-looping (3 restarts in a row)"
        ]
        scraped = (await call(daemon, "GET", "/metrics")).text
        assert 'olactors_actor_restarts_since_stable{path="/root/loop/fragile"} 3.0' in scraped
        system.shutdown()


@pytest.mark.parametrize(
    "path", ["/actors/root/store/writer/child/restart", "/actors/root/nowhere/x/restart"]
)
async def test_restarting_under_something_that_is_not_a_supervisor_is_a_404(
    daemon: Daemon, path: str
) -> None:
    answer = await call(daemon, "POST", path)
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "path", ["/actors/root/http/admin/restart", "/actors/root/http/restart", "/actors/root/restart"]
)
async def test_the_admin_will_not_restart_what_holds_the_listener_answering(
    daemon: Daemon, path: str
) -> None:
    answer = await call(daemon, "POST", path)
    assert answer.status_code == 409
    assert "holds the admin listener itself" in answer.json()["error"]
    assert daemon.system.snapshot("/root/http/admin").restarts_total == 0
