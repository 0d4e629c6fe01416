"""End to end: webhooks in over HTTP, delivered to their route, in one run.

Every figure comes from whole daemons (``olactors run``, sqlite with fsync at
every commit) driven from another process, baselines measured in the same run:

* saturation: closed-loop load (``--connections`` keep-alive connections of
  distinct, validly signed Stripe events) for ``--seconds`` against a daemon
  whose one route has a no-op handler. It prints accepted/s, delivered/s
  while the load lasts, the backlog when it ends and how long that takes to
  drain; and accepted/s of the same daemon with no route (ingest only),
  round by round. Goals: delivered >= 0.95 x accepted, a drain within 2 s,
  accepted >= 0.8 x ingest only.
* forwarding: a daemon whose route forwards to a bare local app (its own
  process). Its route is paused while a burst fills the queue, then resumed:
  the rate at which that backlog drains, against a bare forwarder measured
  in the same run (trio + httpx posting the same bodies to the same app at
  the route's concurrency, no store: the HTTP client's ceiling). Goal
  >= 0.7. Also delivered/s during a burst with the route running.
* light load: an open-loop ``--rate`` events/s for ``--light-seconds`` to a
  daemon forwarding to a local app; latency from the request's send (a
  little before its 200) to the app receiving it. Goal: p50 <= 20 ms,
  p99 <= 100 ms. Then the same, open loop, at 70 % of what the forwarding
  daemon delivered while saturated (a rate it sustains end to end). Goal:
  p99 <= 100 ms, and the last event as quick as the rest (no backlog).

    python scripts/bench_e2e.py [--seconds 5] [--connections 32] [--rounds 3]
                                [--rate 20] [--light-seconds 10] [--in-flight 32]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import trio

import bench_ingest
from benchreport import report

SECRET = "whsec_benchSecret0123456789abcdef"
APP_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "bench-admin-token-0123456789"
NAMESPACE, ROUTE = "webhooks.stripe", "to-app"
SINK = "async def noop(item):\n    return None\n"


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    public: str
    admin: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def daemon_env(python_path: str) -> dict[str, str]:
    """A benchmark or chaos daemon's environment: the secrets its configuration names
    (BENCH_WHSEC, BENCH_APP_SECRET), the admin token, and where its handlers import from."""
    return {
        **os.environ,
        "BENCH_WHSEC": SECRET,
        "BENCH_APP_SECRET": APP_SECRET,
        "OLACTORS_ADMIN_TOKEN": TOKEN,
        # Replicas on Redis share it: it is never generated there.
        "OLACTORS_SUBSCRIBER_KEY": "bench-subscriber-key-0123456789abcdef0123",
        "PYTHONPATH": python_path,
    }


def start(workdir: Path, name: str, route: str, server: str = "", store: str = "") -> Daemon:
    """An olactors daemon with one Stripe source and ``route`` (TOML, may be empty);
    ``server`` adds lines to its ``[server]`` section, ``store`` replaces its ``[store]``."""
    home = workdir / name
    home.mkdir()
    (home / "bench_sink.py").write_text(SINK)
    config = home / "olactors.toml"
    sqlite = f'sqlite_path = "{home / "bench.db"}"'
    config.write_text(
        f'[server]\npublic_bind = "127.0.0.1:0"\n{server}[admin]\nbind = "127.0.0.1:0"\n'
        '[api]\nbind = "127.0.0.1:0"\n'
        f'[daemon]\nstate_dir = "{home}"\n'
        f"[store]\n{store or sqlite}\n"
        '[log]\nlevel = "INFO"\n'
        '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["BENCH_WHSEC"]\n'
        f"{route}"
    )
    env = daemon_env(str(home))
    log = home / "daemon.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "olactors", "run", "--config", str(config)],
            env=env,
            stderr=sink,
        )
    public, admin = listening(process, log)
    return Daemon(process, public, admin)


def listening(process: subprocess.Popen[bytes], log: Path) -> tuple[str, str]:
    """The public and admin addresses a starting daemon logs (RuntimeError if it dies)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        public = re.search(r'public listener on (http://[^\s",]+)', text)
        admin = re.search(r'admin listener on (http://[^\s",]+)', text)
        if public and admin:
            return public.group(1), admin.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"olactors did not start:\n{text[-3000:]}")
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("olactors did not start within 60 s")


async def delivered(client: httpx.AsyncClient) -> int:
    routes = (await client.get("/routes")).json()
    return sum(int(route["delivered"]) for route in routes)


async def drive(url: str, seconds: float, connections: int) -> dict[str, float]:
    """The ingest benchmark's closed-loop load, in its own process."""
    figures: dict[str, float] = await trio.to_thread.run_sync(
        bench_ingest.drive, url, seconds, connections
    )
    return figures


async def saturate(daemon: Daemon, seconds: float, connections: int) -> dict[str, float]:
    """Load for ``seconds``; what was accepted and delivered meanwhile, and the drain after."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=daemon.admin, headers=headers, timeout=30) as admin:
        before = await delivered(admin)
        load = await drive(daemon.public, seconds, connections)
        during = await delivered(admin) - before
        accepted = load["rate"] * seconds - load["errors"]
        ended = time.perf_counter()
        with trio.move_on_after(120):
            while await delivered(admin) - before < accepted:  # noqa: ASYNC110 -- another process
                await trio.sleep(0.02)
        drained_s = time.perf_counter() - ended
    return {
        "accepted": accepted / seconds,
        "delivered": during / seconds,
        "backlog": max(0.0, accepted - during),
        "drain_s": drained_s,
    }


async def ingest_only(daemon: Daemon, seconds: float, connections: int) -> float:
    load = await drive(daemon.public, seconds, connections)
    return (load["rate"] * seconds - load["errors"]) / seconds


# -- forwarding -------------------------------------------------------------------------


def start_app() -> tuple[subprocess.Popen[str], str]:
    """The bare hypercorn app of the ingest benchmark, as the app the daemon forwards to."""
    process = subprocess.Popen(
        [sys.executable, "-c", bench_ingest.BARE], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def body(n: int) -> bytes:
    """A Stripe event the size of the ones the load sends."""
    return json.dumps(
        {
            "id": f"evt_fwd_{n}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": f"pi_{n}", "amount": 2000, "currency": "usd"}},
        }
    ).encode()


async def bare_forward(url: str, events: int, concurrency: int) -> float:
    """Posts ``events`` bodies to ``url``, ``concurrency`` at a time; returns events/s."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = iter(range(events))
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            for n in queue:
                answer = await client.post(url, content=body(n))
                answer.raise_for_status()

        began = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker)
        return events / (time.perf_counter() - began)


async def run_bare_forward(url: str, events: int, concurrency: int) -> float:
    result = await trio.run_process(
        [
            sys.executable,
            __file__,
            "--forward",
            url,
            "--events",
            str(events),
            "--in-flight",
            str(concurrency),
        ],
        capture_stdout=True,
    )
    return float(result.stdout)


async def drain(daemon: Daemon, seconds: float, connections: int) -> dict[str, float]:
    """Pause the route, fill its queue with a burst, resume: how fast the backlog goes."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    route = f"/routes/{NAMESPACE}/{ROUTE}"
    async with httpx.AsyncClient(base_url=daemon.admin, headers=headers, timeout=30) as admin:
        (await admin.post(f"{route}/pause")).raise_for_status()
        before = await delivered(admin)
        load = await drive(daemon.public, seconds, connections)
        accepted = load["rate"] * seconds - load["errors"]
        began = time.perf_counter()
        (await admin.post(f"{route}/resume")).raise_for_status()
        with trio.move_on_after(300):
            while await delivered(admin) - before < accepted:  # noqa: ASYNC110 -- another process
                await trio.sleep(0.02)
        took = time.perf_counter() - began
    return {"backlog": accepted, "drain_rate": accepted / took}


# -- light load -------------------------------------------------------------------------


class App:
    """A local app the daemon forwards to: answers 200 and notes when each event arrived."""

    #: How the app answers now: "ok", or a fault (see refuse) for the chaos scripts.
    mode = "ok"

    async def refuse(self, stream: trio.SocketStream) -> bool:
        """Answer as ``mode`` says when it is a fault (the event is not taken); False when
        the app takes it."""
        if self.mode == "ok":
            return False
        if self.mode == "slow":
            await trio.sleep(1.5)  # within the chaos route's time limit: taken, late
            return False
        if self.mode == "hang":
            await trio.sleep_forever()
        if self.mode == "reset":
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await stream.aclose()
            raise trio.ClosedResourceError
        status = {
            "503": b"503 Service Unavailable",
            "429": b"429 Too Many Requests",
            "410": b"410 Gone",
        }[self.mode]
        await stream.send_all(
            b"HTTP/1.1 " + status + b"\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n"
        )
        return True

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        #: How many times each event came (a redelivery after a crash comes twice).
        self.times: dict[str, int] = {}
        self.url = ""
        self.changed = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        task_status.started()
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        buffered = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffered:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        return
                    buffered += chunk
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                fields = dict(
                    line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
                )
                fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
                length = int(fields.get(b"content-length", b"0"))
                while len(buffered) < length:
                    buffered += await stream.receive_some(65536)
                buffered = buffered[length:]
                event_id = fields[b"webhook-id"].decode()
                if await self.refuse(stream):
                    continue
                self.arrived.setdefault(event_id, time.time())
                self.times[event_id] = self.times.get(event_id, 0) + 1
                self.changed.set()
                self.changed = trio.Event()
                await stream.send_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
                )
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return


def signed(n: int) -> tuple[str, bytes, dict[str, str]]:
    event_id = f"evt_light_{os.getpid()}_{n}"
    body = json.dumps({"id": event_id, "type": "payment_intent.succeeded"}).encode()
    now = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return event_id, body, {"Stripe-Signature": f"t={now},v1={signature}"}


async def light(workdir: Path, name: str, rate: float, seconds: float) -> list[float]:
    """Latencies (ms) of ``rate`` events/s for ``seconds``, send to arrival at the app.

    Open loop: each event is sent on its schedule whether or not the ones
    before were answered, so a daemon that falls behind shows it.
    """
    app = App()
    async with trio.open_nursery() as nursery:
        await nursery.start(app.serve)
        route = (
            '[[webhooks.routes]]\nsource = "stripe"\nevents = ["*"]\n'
            f'forward_to = "{app.url}/hooks"\nsigning_secret_env = "BENCH_APP_SECRET"\n'
        )
        daemon = await trio.to_thread.run_sync(start, workdir, name, route)
        try:
            sent: dict[str, float] = {}
            async with httpx.AsyncClient(base_url=daemon.public, timeout=10) as client:

                async def send(n: int) -> None:
                    event_id, body, headers = signed(n)
                    sent[event_id] = time.time()
                    answer = await client.post("/webhooks/stripe", content=body, headers=headers)
                    if answer.status_code != 200:
                        sent.pop(event_id)

                async with trio.open_nursery() as senders:
                    start_at = trio.current_time()
                    for n in range(int(rate * seconds)):
                        await trio.sleep_until(start_at + n / rate)  # open loop: on schedule
                        senders.start_soon(send, n)
            with trio.move_on_after(30):
                while not set(sent) <= set(app.arrived):
                    await app.changed.wait()
        finally:
            await trio.to_thread.run_sync(daemon.stop)
            nursery.cancel_scope.cancel()
    return sorted(
        1000 * (app.arrived[event_id] - at)
        for event_id, at in sent.items()
        if event_id in app.arrived
    )


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--light-seconds", type=float, default=10.0)
    parser.add_argument("--in-flight", type=int, default=32, help="the route's max_in_flight")
    parser.add_argument("--forward", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.forward:
        print(trio.run(bare_forward, args.forward, args.events, args.in_flight))
        return

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plain = start(workdir, "ingest", "")
        noop = start(
            workdir,
            "noop",
            '[[webhooks.routes]]\nsource = "stripe"\nevents = ["*"]\nhandler = "bench_sink:noop"\n',
        )
        try:
            warm_s = min(1.0, args.seconds)
            trio.run(ingest_only, plain, warm_s, args.connections)  # warm-ups, not counted
            trio.run(saturate, noop, warm_s, args.connections)
            bases: list[float] = []
            runs: list[dict[str, float]] = []
            for _ in range(args.rounds):
                bases.append(trio.run(ingest_only, plain, args.seconds, args.connections))
                runs.append(trio.run(saturate, noop, args.seconds, args.connections))
        finally:
            plain.stop()
            noop.stop()
        app, app_url = start_app()
        forward = start(
            workdir,
            "forward",
            '[[webhooks.routes]]\nname = "to-app"\nsource = "stripe"\nevents = ["*"]\n'
            f'forward_to = "{app_url}/hooks"\nsigning_secret_env = "BENCH_APP_SECRET"\n'
            f"max_in_flight = {args.in_flight}\n",
        )
        try:
            trio.run(saturate, forward, min(1.0, args.seconds), args.connections)  # warm-up
            drains: list[dict[str, float]] = []
            bare_rates: list[float] = []
            bursts: list[dict[str, float]] = []
            for _ in range(args.rounds):
                drains.append(trio.run(drain, forward, args.seconds, args.connections))
                events = max(100, int(drains[-1]["backlog"]))
                bare_rates.append(
                    trio.run(run_bare_forward, f"{app_url}/hooks", events, args.in_flight)
                )
                bursts.append(trio.run(saturate, forward, args.seconds, args.connections))
        finally:
            forward.stop()
            app.terminate()
            app.wait(timeout=30)
        latencies = trio.run(light, workdir, "light", args.rate, args.light_seconds)
        # What the forwarding daemon delivered while saturated is a rate it sustains.
        sustained = 0.7 * statistics.median(b["delivered"] for b in bursts)
        steady = trio.run(light, workdir, "steady", sustained, args.light_seconds)

    print(f"end to end, {args.connections} connections for {args.seconds:g} s, no-op route:")
    report(
        "  accepted with delivery running vs ingest only",
        "ev/s",
        bases,
        [r["accepted"] for r in runs],
        0.8,
        labels=("ingest only", "with delivery"),
    )
    report(
        "  delivered while the load lasts vs accepted",
        "ev/s",
        [r["accepted"] for r in runs],
        [r["delivered"] for r in runs],
        0.95,
        labels=("accepted", "delivered"),
    )
    backlog = statistics.median(r["backlog"] for r in runs)
    drained = [r["drain_s"] for r in runs]
    print(
        f"  backlog at the end of the load: median {backlog:,.0f} events; drained in "
        f"median {statistics.median(drained):.2f} s "
        f"(min {min(drained):.2f}, max {max(drained):.2f})   goal <= 2 s"
    )
    print(f"forwarding to a bare local app, {args.in_flight} in flight:")
    report(
        "  a paused route's backlog drained vs a bare trio + httpx forwarder",
        "ev/s",
        bare_rates,
        [d["drain_rate"] for d in drains],
        0.7,
        labels=("bare forwarder", "ours"),
    )
    report(
        "  delivered during a burst vs accepted",
        "ev/s",
        [b["accepted"] for b in bursts],
        [b["delivered"] for b in bursts],
        None,
        labels=("accepted", "delivered"),
    )
    print(f"light load, {args.rate:g} events/s for {args.light_seconds:g} s, forwarded to an app:")
    print(_latency(latencies, "goal p50 <= 20 ms, p99 <= 100 ms"))
    print(
        f"open loop at 70% of the delivered rate above ({sustained:,.0f} events/s) "
        f"for {args.light_seconds:g} s, forwarded to an app:"
    )
    print(_latency(steady, "goal p99 <= 100 ms, no growing backlog"))


def _latency(latencies: list[float], goal: str) -> str:
    if not latencies:
        return "  no event arrived"
    return (
        f"  send to arrival: p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, last {latencies[-1]:.1f} ms, "
        f"{len(latencies)} events   {goal}"
    )


if __name__ == "__main__":
    main()
