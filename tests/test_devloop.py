"""``olactors trigger`` and ``olactors listen`` against a running daemon, over real HTTP."""

from __future__ import annotations

import argparse
import base64
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import standardwebhooks
import trio
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from olactors.config import Config
from olactors.devloop import forward, new_events, run_trigger
from olactors.runtime import ActorSystem
from olactors.signing import secret_key
from olactors.store import STORE_PATH, Store
from olactors.testing import Canned, FakeProvider
from olactors.tree import build_tree
from olactors.webhooks import namespace_of

SECRETS = {
    "STRIPE_WHSEC": "whsec_" + "a1" * 16,
    "STANDARD_WHSEC": "whsec_" + base64.b64encode(b"k" * 32).decode(),
    "ABACATE_SECRET": "abacate-secret-0123456789abcdef",
    "ADMIN_TOKEN": "t" * 32,
}
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())


@dataclass
class Daemon:
    system: ActorSystem
    config_path: Path
    public_url: str
    admin_url: str


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    public_key = base64.b64encode(
        SENDGRID_KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    path = tmp_path / "olactors.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "state"
[server]
public_bind = "127.0.0.1:0"
[api]
bind = "127.0.0.1:0"
[admin]
bind = "127.0.0.1:0"
token_env = "ADMIN_TOKEN"
[store]
sqlite_path = "o.db"
[webhooks.sources.stripe]
kind = "stripe"
secrets_env = ["STRIPE_WHSEC"]
[webhooks.sources.app]
kind = "standard"
secrets_env = ["STANDARD_WHSEC"]
[webhooks.sources.sendgrid]
kind = "sendgrid"
public_key = "{public_key}"
[webhooks.sources.abacatepay]
kind = "abacatepay"
secrets_env = ["ABACATE_SECRET"]
"""
    )
    system = ActorSystem(build_tree(Config.load(path), SECRETS))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        public = system.actor_snapshot("/root/http/public").state["addresses"][0]
        admin = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        yield Daemon(system, path, public, admin)
        system.shutdown()


def with_sendgrid_key(args: argparse.Namespace, tmp_path: Path) -> argparse.Namespace:
    """``args`` with the private key the test's SendGrid source trusts, as a PEM file."""
    pem = tmp_path / "sendgrid.pem"
    pem.write_bytes(SENDGRID_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    args.sendgrid_key = pem
    return args


def trigger_args(
    daemon: Daemon, source: str, event_type: str, **extra: object
) -> argparse.Namespace:
    return argparse.Namespace(
        source=source,
        type=event_type,
        config=daemon.config_path,
        url=daemon.public_url,
        sendgrid_key=None,
        wait=10.0,
        **extra,
    )


async def stored_types(daemon: Daemon, source: str) -> list[str]:
    store = Store.at(daemon.system, STORE_PATH)
    page = await store.events(namespace_of(source), limit=10)
    return [item.type for item in page.items]


@pytest.mark.parametrize(
    ("source", "event_type"),
    [
        ("stripe", "charge.refunded"),
        ("app", "contact.created"),
        ("abacatepay", "subscription.renewed"),
    ],
)
async def test_a_triggered_event_is_verified_and_stored_like_the_providers_own(
    daemon: Daemon, source: str, event_type: str
) -> None:
    code = await trio.to_thread.run_sync(
        run_trigger, trigger_args(daemon, source, event_type), SECRETS
    )
    assert code == 0
    assert await stored_types(daemon, source) == [event_type]


async def test_a_sendgrid_event_is_triggered_with_the_key_pair_the_source_trusts(
    daemon: Daemon, tmp_path: Path
) -> None:
    args = with_sendgrid_key(trigger_args(daemon, "sendgrid", "bounce"), tmp_path)
    assert await trio.to_thread.run_sync(run_trigger, args, SECRETS) == 0
    assert await stored_types(daemon, "sendgrid") == ["bounce"]


async def test_each_trigger_is_a_new_event_not_a_duplicate(daemon: Daemon) -> None:
    for _ in range(2):
        args = trigger_args(daemon, "stripe", "invoice.paid")
        assert await trio.to_thread.run_sync(run_trigger, args, SECRETS) == 0
    assert await stored_types(daemon, "stripe") == ["invoice.paid", "invoice.paid"]


async def test_a_type_sendgrid_never_sends_is_refused_with_the_types_it_does(
    daemon: Daemon, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = with_sendgrid_key(trigger_args(daemon, "sendgrid", "payment_intent.succeeded"), tmp_path)
    assert await trio.to_thread.run_sync(run_trigger, args, SECRETS) == 1
    assert "sendgrid sends no 'payment_intent.succeeded' events; it sends" in (
        capsys.readouterr().err
    )


async def test_listen_posts_each_new_event_to_the_local_app_signed(daemon: Daemon) -> None:
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    app = FakeProvider(Canned(204))
    async with trio.open_nursery() as nursery:
        await nursery.start(app.serve)
        ready = threading.Event()

        def listen() -> None:
            headers = {"Authorization": f"Bearer {SECRETS['ADMIN_TOKEN']}"}
            with (
                httpx.Client(base_url=daemon.admin_url, headers=headers) as admin,
                httpx.Client() as client,
            ):
                forward(
                    admin,
                    client,
                    ["stripe"],
                    f"{app.url}/hooks",
                    secret_key(secret),
                    max_events=1,
                    give_up_after_s=30.0,  # a hang guard: the event comes long before
                    on_ready=ready.set,
                )

        async with trio.open_nursery() as listening:
            listening.start_soon(trio.to_thread.run_sync, listen)
            assert await trio.to_thread.run_sync(ready.wait, 30.0)
            args = trigger_args(daemon, "stripe", "payment_intent.succeeded")
            assert await trio.to_thread.run_sync(run_trigger, args, SECRETS) == 0
        [seen] = app.seen("/hooks")
        nursery.cancel_scope.cancel()
    event = standardwebhooks.Webhook(secret).verify(seen.body, dict(seen.headers))
    assert event["type"] == "payment_intent.succeeded"


async def test_listen_pages_back_through_a_burst_larger_than_one_page(daemon: Daemon) -> None:
    store = Store.at(daemon.system, STORE_PATH)
    for n in range(151):
        await store.publish(namespace_of("stripe"), f"evt_{n:03}", "invoice.paid", b"{}", [])

    def unseen() -> list[str]:
        headers = {"Authorization": f"Bearer {SECRETS['ADMIN_TOKEN']}"}
        with httpx.Client(base_url=daemon.admin_url, headers=headers) as admin:
            return [item["id"] for item in new_events(admin, "stripe", {"evt_000"})]

    ids = await trio.to_thread.run_sync(unseen)
    assert ids == [f"evt_{n:03}" for n in range(150, 0, -1)]  # newest first, all 150
