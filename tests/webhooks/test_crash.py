"""Kill the daemon with SIGKILL under load: every event it answered 200 is still delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trio

from olactors.testing import Canned, FakeProvider

REPO = Path(__file__).resolve().parents[2]
WHSEC = "whsec_crashSecret0123456789abcdef"
APP_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def config(tmp_path: Path, app_url: str, paths: tuple[str, ...]) -> Path:
    path = tmp_path / "olactors.toml"
    routes = "".join(
        f"""
[[webhooks.routes]]
name = "{name}"
source = "stripe"
events = ["*"]
forward_to = "{app_url}/{name}"
signing_secret_env = "CRASH_APP_SECRET"
timeout_s = 1.0
"""
        for name in paths
    )
    path.write_text(
        f"""
[server]
public_bind = "127.0.0.1:0"
[api]
bind = "127.0.0.1:0"
[admin]
bind = "127.0.0.1:0"
[daemon]
state_dir = "{tmp_path / "state"}"
[store]
sqlite_path = "{tmp_path / "olactors.db"}"
[webhooks]
retry_schedule_s = [0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
lease_s = 2.0
[webhooks.sources.stripe]
kind = "stripe"
secrets_env = ["CRASH_WHSEC"]
concurrency = 8
{routes}"""
    )
    return path


async def start(config_path: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "CRASH_WHSEC": WHSEC, "CRASH_APP_SECRET": APP_SECRET}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "olactors", "run", "--config", str(config_path)],
            cwd=REPO,
            env=env,
            stderr=sink,
        )
    with trio.fail_after(30):
        while True:
            found = re.search(r'public listener on (http://[^\s"]+)', log.read_text())
            if found:
                return process, found.group(1)
            assert process.poll() is None, log.read_text()
            await trio.sleep(0.05)


def signed(n: int) -> tuple[str, bytes, dict[str, str]]:
    event_id = f"evt_crash_{n}"
    body = json.dumps({"id": event_id, "type": "payment_intent.succeeded"}).encode()
    now = int(time.time())
    signature = hmac.new(WHSEC.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return event_id, body, {"Stripe-Signature": f"t={now},v1={signature}"}


# The senders' httpx requests die with the daemon; httpx then leaves its body
# generators to the garbage collector, and trio warns. Not what is under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("paths", "app_delay_s"),
    [
        (("hooks",), 0.0),
        # Two routes, each its own queue, settled in batches; a slow app keeps
        # deliveries in flight when the kill comes.
        (("hooks", "ledger"), 0.02),
    ],
)
async def test_every_event_answered_200_before_a_sigkill_is_delivered(
    tmp_path: Path, paths: tuple[str, ...], app_delay_s: float
) -> None:
    acknowledged: list[str] = []
    async with trio.open_nursery() as nursery:
        app = FakeProvider(Canned(200, json={"ok": True}, delay_s=app_delay_s))
        await nursery.start(app.serve)
        config_path = config(tmp_path, app.url, paths)
        daemon, url = await start(config_path, tmp_path / "first.log")

        async def sender(lane: int) -> None:
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                for n in range(lane, 100_000, 8):
                    event_id, body, headers = signed(n)
                    try:
                        answer = await client.post(
                            "/webhooks/stripe", content=body, headers=headers
                        )
                    except httpx.HTTPError:
                        return  # the daemon died mid-request: that one was never acknowledged
                    if answer.status_code == 200:
                        acknowledged.append(event_id)

        async with trio.open_nursery() as load:
            for lane in range(8):
                load.start_soon(sender, lane)
            with trio.fail_after(60):
                while len(acknowledged) < 50:  # the load is well under way
                    await trio.sleep(0.01)
            daemon.kill()  # SIGKILL, mid-load
            await trio.to_thread.run_sync(daemon.wait)

        restarted, _ = await start(config_path, tmp_path / "second.log")
        try:
            with trio.fail_after(60):
                while not all(
                    set(acknowledged) <= {r.headers["webhook-id"] for r in app.seen(f"/{path}")}
                    for path in paths
                ):
                    await trio.sleep(0.1)
        finally:
            restarted.terminate()
            await trio.to_thread.run_sync(restarted.wait)
        nursery.cancel_scope.cancel()
