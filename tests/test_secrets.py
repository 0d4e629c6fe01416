"""No secret, token or signature ever shows up in the daemon's logs or admin output."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from pathlib import Path

import httpx
import pytest
import trio

from olactors.admin.commands import run_command
from olactors.cli import _parser
from olactors.config import Config
from olactors.runtime import ActorSystem
from olactors.store import Store
from olactors.testing import free_port
from olactors.tree import build_tree

SECRETS = {
    "ADMIN_TOKEN": "adm-9f1c2e7b5a-0123456789abcdef",
    "STRIPE_WHSEC": "whsec_s3cr3t4b8e0123456789abcdefAB",
    "APP_SECRET": "whsec_YXBwLXNpZ25pbmctc2VjcmV0LW9mLTI0LWJ5dGVz",
    "STRIPE_KEY": "sk_test_51Hs3cr3t",
}


QUEUE = "d:webhooks.stripe:to-app"


def config(tmp_path: Path) -> Config:
    return Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0", "token_env": "ADMIN_TOKEN"},
            "api": {"bind": "127.0.0.1:0"},
            "providers": {
                "stripe": {"base_url": "https://api.stripe.com", "secret_env": "STRIPE_KEY"}
            },
            "webhooks": {
                "retry_schedule_s": [0.01],
                "sources": {"stripe": {"kind": "stripe", "secrets_env": ["STRIPE_WHSEC"]}},
                "routes": [
                    {
                        "name": "to-app",
                        "source": "stripe",
                        "events": ["*"],
                        # Nothing listens there: every delivery fails, then dead-letters.
                        "forward_to": f"http://127.0.0.1:{free_port()}/hooks",
                        "signing_secret_env": "APP_SECRET",
                    }
                ],
            },
        }
    )


def stripe_headers(body: bytes, secret: str) -> dict[str, str]:
    now = int(time.time())
    signature = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={signature}"}


async def test_no_secret_appears_in_logs_or_admin_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    hidden = dict(SECRETS)
    system = ActorSystem(build_tree(config(tmp_path), SECRETS))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        public = system.actor_snapshot("/root/http/public").state["addresses"][0]
        admin = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        body = b'{"id":"evt_secret","type":"invoice.paid"}'
        async with httpx.AsyncClient(base_url=public) as client:
            bad = await client.post(
                "/webhooks/stripe", content=body, headers=stripe_headers(body, "whsec_wrong")
            )
            signed = stripe_headers(body, SECRETS["STRIPE_WHSEC"])
            good = await client.post("/webhooks/stripe", content=body, headers=signed)
            # The signature a provider sent is as private as the secret behind it.
            hidden["STRIPE_SIGNATURE"] = signed["Stripe-Signature"].split("v1=")[1]
            seen += [bad.text, good.text]
        assert (bad.status_code, good.status_code) == (401, 200)
        store = Store.at(system, "/root/store")
        with trio.fail_after(20):
            while (await store.counts(QUEUE)).dead == 0:
                await trio.sleep(0.02)
        headers = {"Authorization": f"Bearer {SECRETS['ADMIN_TOKEN']}"}
        async with httpx.AsyncClient(base_url=admin, headers=headers) as client:
            for path in (
                "/actors",
                "/breakers",
                "/limiters",
                "/queues",
                "/readyz",
                "/metrics",
                f"/dead-letters?queue={QUEUE}",
                f"/dead-letters/evt_secret?queue={QUEUE}",
                "/actors/root/delivery",
            ):
                answer = await client.get(path)
                assert answer.status_code == 200, (path, answer.text)
                seen.append(answer.text)
        # status: degraded (3), the event is a dead letter by now.
        for argv, code in (
            (["status", "--json"], 3),
            (["dead-letters", "list", "--queue", QUEUE], 0),
        ):
            args = _parser().parse_args([*argv, "--admin", admin, "--config", str(_toml(tmp_path))])
            assert await trio.to_thread.run_sync(run_command, args, SECRETS) == code
        system.shutdown()
    out = capsys.readouterr()
    seen += [out.out, out.err, caplog.text]
    seen += [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert "dead-lettered" in caplog.text  # the failures were logged, and looked at
    for name, secret in hidden.items():
        leaks = [text for text in seen if secret in text]
        assert not leaks, f"{name} leaked into: {leaks[0][:300]}"


def _toml(tmp_path: Path) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text('[admin]\ntoken_env = "ADMIN_TOKEN"\n')
    return path
