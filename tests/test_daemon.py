"""The daemon's life: signals, orderly and forced shutdown, exit codes."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from olactors.clients import RateLimitError
from olactors.clients.stripe import StripeClient
from olactors.config import Config, ConfigError, DaemonConfig
from olactors.daemon import serve
from olactors.delivery import DELIVERY_PATH
from olactors.provider_clients import provider_client
from olactors.resilience import RESILIENCE_PATH
from olactors.runtime import ActorSpec, ActorSystem, SupervisorSpec
from olactors.store import STORE_PATH, RedisBackend, SqliteBackend, Store
from olactors.testing import Canned, FakeProvider
from olactors.tree import build_tree

from .runtime.support import Boom, Journal, Recorder, Sleep, Work, recorder, tree


class Signals:
    """Stands for the operating system: delivers the signals a test sends."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[int](10)

    def send(self, signum: int) -> None:
        self._send.send_nowait(signum)

    def __aiter__(self) -> Signals:
        return self

    async def __anext__(self) -> int:
        return await self._receive.receive()


def config(grace_s: float = 30.0) -> Config:
    return Config(daemon=DaemonConfig(shutdown_timeout_s=grace_s))


def local(tmp_path: Path, **sections: dict[str, object]) -> Config:
    """A config whose state stays in ``tmp_path`` and whose listeners take free ports."""
    base: dict[str, dict[str, object]] = {
        "store": {"sqlite_path": str(tmp_path / "o.db")},
        "daemon": {"state_dir": str(tmp_path / "state")},
        "server": {"public_bind": "127.0.0.1:0"},
        "admin": {"bind": "127.0.0.1:0"},
        "api": {"bind": "127.0.0.1:0"},
    }
    for name, values in sections.items():
        base[name] = base.get(name, {}) | values
    return Config.model_validate(base)


async def test_sigterm_stops_the_daemon_in_order_with_exit_code_0() -> None:
    journal = Journal()
    system = ActorSystem(tree(recorder("a", journal), recorder("b", journal)))
    signals = Signals()
    async with trio.open_nursery() as nursery:

        async def stop_when_up() -> None:
            await journal.wait_for(lambda: journal.count("start") == 2)
            for n in range(5):
                system.actor_ref("/root/a").tell_nowait(Work(n))
            signals.send(signal.SIGTERM)

        nursery.start_soon(stop_when_up)
        assert await serve(system, config(), signals) == 0
    assert journal.count("handled") == 5
    assert journal.order("stop") == ["b", "a"]


async def test_a_second_signal_forces_the_shutdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    system = ActorSystem(tree(recorder("slow", journal, shutdown_timeout_s=3600)))
    signals = Signals()
    async with trio.open_nursery() as nursery:

        async def interrupt_twice() -> None:
            await journal.wait_for(lambda: journal.count("start") == 1)
            system.actor_ref("/root/slow").tell_nowait(Sleep(3600))
            await trio.sleep(1)
            signals.send(signal.SIGINT)
            await trio.sleep(1)
            signals.send(signal.SIGINT)

        nursery.start_soon(interrupt_twice)
        assert await serve(system, config(), signals) == 128 + signal.SIGINT
    assert trio.current_time() < 10


async def test_a_shutdown_that_overruns_its_grace_period_is_forced(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal()
    system = ActorSystem(tree(recorder("slow", journal, shutdown_timeout_s=3600)))
    signals = Signals()
    async with trio.open_nursery() as nursery:

        async def interrupt_once() -> None:
            await journal.wait_for(lambda: journal.count("start") == 1)
            system.actor_ref("/root/slow").tell_nowait(Sleep(3600))
            await trio.sleep(1)
            signals.send(signal.SIGTERM)

        nursery.start_soon(interrupt_once)
        assert await serve(system, config(grace_s=20), signals) == 1
    assert trio.current_time() == pytest.approx(21)
    assert "orderly shutdown took longer than 20 s" in caplog.text


async def test_a_top_level_failure_exits_1_with_a_clear_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    spec = tree(recorder("w", journal, max_message_crashes=1), max_restarts=0)
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:

        async def crash_when_up() -> None:
            await journal.wait_for(lambda: journal.count("start") == 1)
            system.actor_ref("/root/w").tell_nowait(Boom())

        nursery.start_soon(crash_when_up)
        assert await serve(system, config(), Signals()) == 1
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert any(
        "olactors stopped: top-level supervisor failed: RestartIntensityExceeded" in line
        for line in critical
    )


async def test_an_actor_that_halts_the_system_sets_the_exit_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Halter(Recorder):
        async def receive(self, message: object) -> None:
            self.context.halt("cannot go on without a licence", exit_code=3)

    journal = Journal()
    system = ActorSystem(
        tree(recorder("first", journal), ActorSpec("h", lambda: Halter("h", journal)))
    )
    async with trio.open_nursery() as nursery:

        async def halt_when_up() -> None:
            await journal.wait_for(lambda: journal.count("start") == 2)
            system.actor_ref("/root/h").tell_nowait(Work())

        nursery.start_soon(halt_when_up)
        assert await serve(system, config(), Signals()) == 3
    assert journal.order("stop") == ["h", "first"]
    assert "olactors stopped: halted (exit 3): /root/h: cannot go on" in caplog.text


def test_every_listener_may_stop_no_sooner_than_its_graceful_timeout() -> None:
    spec = build_tree(Config.model_validate({"server": {"graceful_timeout_s": 12}}), env={})
    [http] = [child for child in spec.children if child.name == "http"]
    assert isinstance(http, SupervisorSpec)
    for listener in http.children:
        assert listener.shutdown_timeout_s is not None
        assert listener.shutdown_timeout_s >= 12, listener.name


async def test_a_tree_that_cannot_start_exits_1(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Recorder):
        async def started(self) -> None:
            raise ConnectionRefusedError("redis at 127.0.0.1:1")

    journal = Journal()
    system = ActorSystem(tree(ActorSpec("store", lambda: Broken("store", journal))))
    assert await serve(system, config(), Signals()) == 1
    assert "olactors could not start: /root/store failed to start" in caplog.text


def test_the_root_supervisor_takes_its_intensity_from_the_config() -> None:
    spec = build_tree(
        Config.model_validate({"supervision": {"max_restarts": 4, "within_s": 9}}), env={}
    )
    assert isinstance(spec, SupervisorSpec)
    assert (spec.name, spec.max_restarts, spec.within_s) == ("root", 4, 9)


def test_the_store_is_the_first_subsystem_to_start() -> None:
    spec = build_tree(Config(), env={})
    assert [child.name for child in spec.children][:1] == ["store"]


def test_a_redis_password_comes_from_the_variable_the_config_names() -> None:
    config = Config.model_validate(
        {"store": {"backend": "redis", "redis_password_env": "OLACTORS_REDIS_PASSWORD"}}
    )
    with pytest.raises(ConfigError, match="OLACTORS_REDIS_PASSWORD, which is not set"):
        build_tree(config, env={"OLACTORS_SUBSCRIBER_KEY": "k" * 32})
    build_tree(
        config, env={"OLACTORS_REDIS_PASSWORD": "s3cret", "OLACTORS_SUBSCRIBER_KEY": "k" * 32}
    )


async def test_the_daemon_serves_the_store_from_the_config(tmp_path: Path) -> None:
    config = local(tmp_path)
    system = ActorSystem(build_tree(config, env={}))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        store = Store.at(system, "/root/store")
        assert await store.claim_key("evt_1", ttl_s=60) is True
        system.shutdown()
    assert (tmp_path / "o.db").exists()


def test_store_backends_give_up_before_the_callers_waiting_on_them() -> None:
    config = Config.model_validate({"store": {"timeout_s": 5.0}})
    sqlite = config.store.backends(env={})("writer")
    assert isinstance(sqlite, SqliteBackend)
    assert sqlite.busy_timeout_s < config.store.timeout_s
    redis_config = Config.model_validate({"store": {"backend": "redis", "timeout_s": 5.0}})
    redis = redis_config.store.backends(env={})("writer")
    assert isinstance(redis, RedisBackend)
    assert redis.timeout_s < redis_config.store.timeout_s


def test_every_configured_provider_gets_a_limiter_and_a_breaker() -> None:
    spec = build_tree(Config(), env={})
    resilience = next(c for c in spec.children if c.name == "resilience")
    assert isinstance(resilience, SupervisorSpec)
    assert sorted(p.name for p in resilience.children) == sorted(Config().providers)


async def test_a_provider_client_sends_the_key_from_its_variable(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        stand_in = FakeProvider(
            Canned(200, json={"id": "evt_1", "type": "x", "created": 1, "data": {}})
        )
        await nursery.start(stand_in.serve)
        config = local(
            tmp_path, providers={"stripe": {"base_url": stand_in.url, "secret_env": "STRIPE_KEY"}}
        )
        system = ActorSystem(build_tree(config, env={}))
        await nursery.start(system.run)
        client = provider_client(config, "stripe", system, {"STRIPE_KEY": "sk_1"})
        async with client:
            await StripeClient(client).retrieve_event("evt_1")
        assert stand_in.requests[0].headers["authorization"] == "Bearer sk_1"
        with pytest.raises(ConfigError, match="STRIPE_KEY, which is not set"):
            provider_client(config, "stripe", system, {})
        system.shutdown()
        nursery.cancel_scope.cancel()


async def test_the_instagram_client_reads_a_throttle_from_the_body_of_a_400(
    tmp_path: Path,
) -> None:
    throttled = {"error": {"message": "Application request limit reached", "code": 4}}
    async with trio.open_nursery() as nursery:
        stand_in = FakeProvider(Canned(400, json=throttled))
        await nursery.start(stand_in.serve)
        config = local(
            tmp_path, providers={"instagram": {"base_url": stand_in.url, "max_attempts": 1}}
        )
        system = ActorSystem(build_tree(config, env={}))
        await nursery.start(system.run)
        async with provider_client(config, "instagram", system, {}) as client:
            with pytest.raises(RateLimitError):
                await client.request("GET", "/me/media", endpoint="media")
        system.shutdown()
        nursery.cancel_scope.cancel()


def signed_stripe(body: bytes, secret: str) -> dict[str, str]:
    import hashlib
    import hmac
    import time

    now = int(time.time())
    signature = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={signature}"}


async def test_the_daemon_takes_a_signed_webhook_on_its_public_listener(tmp_path: Path) -> None:
    import httpx

    config = Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "webhooks": {
                "sources": {"stripe": {"kind": "stripe", "secrets_env": ["STRIPE_WHSEC"]}}
            },
        }
    )
    env = {"STRIPE_WHSEC": "whsec_daemonSecret0123456789abcdef"}
    system = ActorSystem(build_tree(config, env))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        listener = system.actor_snapshot("/root/http/public").state
        url = listener["addresses"][0]
        body = b'{"id":"evt_daemon","type":"invoice.paid"}'
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.post(
                "/webhooks/stripe",
                content=body,
                headers=signed_stripe(body, "whsec_daemonSecret0123456789abcdef"),
            )
        assert answer.json() == {"status": "queued", "event_id": "evt_daemon"}
        store = Store.at(system, "/root/store")
        assert (await store.event("webhooks.stripe", "evt_daemon")).type == "invoice.paid"
        system.shutdown()


def test_a_webhook_source_whose_secret_is_missing_is_a_config_error() -> None:
    config = Config.model_validate(
        {"webhooks": {"sources": {"stripe": {"kind": "stripe", "secrets_env": ["NOPE"]}}}}
    )
    with pytest.raises(ConfigError, match=r"webhooks\.sources\.stripe\.secrets_env names NOPE"):
        build_tree(config, env={})


@pytest.mark.parametrize(
    ("kind", "secret"),
    [
        ("stripe", "whsec_"),
        ("stripe", "whsec_short"),
        ("stripe", "sk_live_notasigningsecret0123456789"),
        ("standard", "whsec_"),
        ("standard", "whsec_YWJj"),  # 3 bytes
        ("abacatepay", "s3cret"),
    ],
)
def test_a_webhook_secret_too_weak_to_sign_is_a_config_error_naming_its_variable(
    kind: str, secret: str
) -> None:
    config = Config.model_validate(
        {"webhooks": {"sources": {"src": {"kind": kind, "secrets_env": ["WEAK"]}}}}
    )
    with pytest.raises(ConfigError, match=r"webhooks\.sources\.src\.secrets_env: WEAK: "):
        build_tree(config, env={"WEAK": secret})


async def test_shutdown_lets_an_in_flight_webhook_finish_and_store_before_stopping(
    tmp_path: Path,
) -> None:
    config = Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0", "graceful_timeout_s": 5},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "webhooks": {
                "sources": {"stripe": {"kind": "stripe", "secrets_env": ["STRIPE_WHSEC"]}}
            },
        }
    )
    system = ActorSystem(build_tree(config, {"STRIPE_WHSEC": "whsec_daemonSecret0123456789abcdef"}))
    body = b'{"id":"evt_inflight","type":"invoice.paid"}'
    headers = signed_stripe(body, "whsec_daemonSecret0123456789abcdef")
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        address = system.actor_snapshot("/root/http/public").state["addresses"][0]
        host, port = address.removeprefix("http://").rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        head = (
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Stripe-Signature: {headers['Stripe-Signature']}\r\n\r\n"
        ).encode()
        await stream.send_all(head + body[:10])  # the request is in flight...
        system.shutdown()  # ...when the daemon is told to stop
        await trio.sleep(0.2)
        await stream.send_all(body[10:])
        answer = b""
        while b'"}' not in answer:  # the JSON answer's end
            chunk = await stream.receive_some(4096)
            if not chunk:
                break
            answer += chunk
        await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"status":"queued"' in answer
    # The store stopped after the listener: the event is on disk.
    import sqlite3

    rows = sqlite3.connect(tmp_path / "o.db").execute("SELECT id FROM events").fetchall()
    assert rows == [("evt_inflight",)]


async def test_the_daemon_forwards_a_stored_event_along_its_configured_route(
    tmp_path: Path,
) -> None:
    import httpx
    import standardwebhooks

    app_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    async with trio.open_nursery() as outer:
        app = FakeProvider(Canned(200, json={"ok": True}))
        await outer.start(app.serve)
        route = {
            "source": "stripe",
            "events": ["invoice.*"],
            "forward_to": f"{app.url}/hooks/stripe",
            "signing_secret_env": "APP_SECRET",
        }
        config = Config.model_validate(
            {
                "store": {"sqlite_path": str(tmp_path / "o.db")},
                "daemon": {"state_dir": str(tmp_path / "state")},
                "server": {"public_bind": "127.0.0.1:0"},
                "admin": {"bind": "127.0.0.1:0"},
                "api": {"bind": "127.0.0.1:0"},
                "webhooks": {
                    "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"]}},
                    "routes": [route],
                },
            }
        )
        system = ActorSystem(
            build_tree(
                config, {"WHSEC": "whsec_dSecret0123456789abcdefABCDEF", "APP_SECRET": app_secret}
            )
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run)
            url = system.actor_snapshot("/root/http/public").state["addresses"][0]
            body = b'{"id":"evt_route","type":"invoice.paid"}'
            async with httpx.AsyncClient(base_url=url) as client:
                signed = signed_stripe(body, "whsec_dSecret0123456789abcdefABCDEF")
                await client.post("/webhooks/stripe", content=body, headers=signed)
            with trio.fail_after(10):
                while not app.seen("/hooks/stripe"):
                    await trio.sleep(0.05)
            system.shutdown()  # in order: the workers close their clients
        outer.cancel_scope.cancel()
    delivered = app.seen("/hooks/stripe")[0]
    headers = {k: v for k, v in delivered.headers.items() if k.startswith("webhook-")}
    verified = standardwebhooks.Webhook(app_secret).verify(delivered.body, headers)
    assert verified["id"] == "evt_route"


@pytest.mark.parametrize(
    ("route", "why"),
    [
        ({"source": "nope", "events": ["*"], "handler": "x:y"}, "not configured"),
        ({"source": "stripe", "events": ["*"]}, "exactly one of forward_to, handler or sync"),
        ({"source": "stripe", "events": ["*"], "forward_to": "http://a/b"}, "signing_secret_env"),
    ],
)
def test_a_route_that_cannot_work_is_a_config_error(route: dict[str, object], why: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=why):
        Config.model_validate(
            {
                "webhooks": {
                    "sources": {"stripe": {"kind": "stripe", "secrets_env": ["S"]}},
                    "routes": [route],
                }
            }
        )


def test_a_handler_that_cannot_be_imported_fails_at_start_not_at_the_first_event() -> None:
    config = Config.model_validate(
        {
            "webhooks": {
                "sources": {"stripe": {"kind": "stripe", "secrets_env": ["S"]}},
                "routes": [{"source": "stripe", "events": ["*"], "handler": "no.such.module:f"}],
            }
        }
    )
    with pytest.raises(ConfigError, match=r"handler no\.such\.module:f"):
        build_tree(config, {"S": "whsec_xStripeSecret0123456789abcdef"})


def test_a_daemon_that_cannot_hold_its_connections_fails_at_start() -> None:
    # In a child process: the limit is lowered there, for good.
    script = (
        "import resource\n"
        "from olactors.config import Config, ConfigError\n"
        "from olactors.daemon import ensure_descriptors\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
        "try:\n"
        "    ensure_descriptors(Config())\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "need 1448 file descriptors" in done.stdout


def test_the_soft_descriptor_limit_is_raised_to_fit_the_connections() -> None:
    script = (
        "import resource\n"
        "from olactors.config import Config\n"
        "from olactors.daemon import ensure_descriptors\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))\n"
        "print(ensure_descriptors(Config()), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1448", "1448"]


def test_a_shutdown_shorter_than_the_listeners_graceful_time_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"must exceed server\.graceful_timeout_s"):
        Config.model_validate({"daemon": {"shutdown_timeout_s": 12}})


async def test_a_halt_whose_shutdown_overruns_the_grace_period_is_forced(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    class Halter(Recorder):
        async def receive(self, message: object) -> None:
            self.context.halt("giving up", exit_code=3)

    journal = Journal()
    system = ActorSystem(
        tree(
            recorder("slow", journal, shutdown_timeout_s=3600),
            ActorSpec("h", lambda: Halter("h", journal)),
        )
    )
    async with trio.open_nursery() as nursery:

        async def stall_then_halt() -> None:
            await journal.wait_for(lambda: journal.count("start") == 2)
            system.actor_ref("/root/slow").tell_nowait(Sleep(3600))
            await trio.sleep(1)
            system.actor_ref("/root/h").tell_nowait(Work())

        nursery.start_soon(stall_then_halt)
        assert await serve(system, config(grace_s=20), Signals()) == 3
    assert trio.current_time() == pytest.approx(21)
    assert "orderly shutdown took longer than 20 s" in caplog.text


@pytest.mark.parametrize(("allow_from", "warned"), [([], True), (["203.0.113.0/24"], False)])
def test_a_source_proven_by_a_static_secret_alone_is_warned_about(
    caplog: pytest.LogCaptureFixture, allow_from: list[str], warned: bool
) -> None:
    source = {"kind": "abacatepay", "secrets_env": ["S"], "allow_from": allow_from}
    config = Config.model_validate({"webhooks": {"sources": {"abacate": source}}})
    build_tree(config, env={"S": "abacate-secret-0123456789abcdef"})
    assert ("set allow_from" in caplog.text) is warned


async def test_each_subsystem_sits_at_the_path_its_package_names() -> None:
    system = ActorSystem(build_tree(Config(), env={}))
    assert {STORE_PATH, RESILIENCE_PATH, DELIVERY_PATH} <= set(system.registry.paths())
