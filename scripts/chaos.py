"""Chaos under load, proven by a ledger: nothing the daemon acknowledged is lost.

    python scripts/chaos.py SCENARIO|all [--duration 10] [--rate 50] [--period 2]

Each scenario starts its own daemon (``olactors run``, sqlite with fsync at
every commit) forwarding a Stripe source to a receiving app of this process,
sends validly signed events at ``--rate`` for ``--duration`` seconds (loopback
only; an event the daemon did not answer 200 is sent again with the same id,
as Stripe does), injects its fault, waits for the drain, and prints the
ledger: every acknowledgement and every delivery, counted. Exit 1 on any
acknowledged event that never arrived.

Scenarios so far:
  kill         SIGKILL the daemon every --period seconds under load, and start it
               again on the same store (what a crash, an OOM kill or a power cut does).
  destination  the receiving app answers 503, resets connections, hangs past the
               route's time limit, answers 429 with Retry-After, each for --period
               seconds, then takes events again.
  redis        the daemon on Redis: Redis stopped and started, then frozen (SIGSTOP)
               and thawed, --period seconds each, in a loop.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio

from bench_e2e import APP_SECRET, SECRET, TOKEN, App, listening, percentile, signed
from olactors.testing import RedisServer

#: Waits between delivery attempts, short: a drain is measured in seconds.
RETRY = "[0.1, 0.2, 0.5, 1.0, 1.0, 2.0, 2.0, 2.0, 5.0, 5.0]"


@dataclass
class Ledger:
    #: Each event's first send (its latency runs from there: a delivery may come
    #: before the 200 it raced, or before a resend's) and its acknowledgement.
    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    refused: int = 0

    def report(self, app: App, queued: int, dead: int) -> int:
        """Print the ledger; the number of acknowledged events lost: neither delivered, nor
        still in a queue, nor dead-lettered (one route: one queue item per event)."""
        once = sum(1 for e in self.acked if app.times.get(e, 0) == 1)
        more = sum(1 for e in self.acked if app.times.get(e, 0) > 1)
        missing = [e for e in self.acked if e not in app.arrived]
        lost = missing[: max(0, len(missing) - queued - dead)]
        latencies = sorted(
            1000 * (app.arrived[e] - self.sent[e]) for e in self.acked if e in app.arrived
        )
        print(f"  acknowledged        {len(self.acked)}")
        print(f"  delivered once      {once}")
        print(f"  delivered 2+ times  {more}")
        print(f"  lost                {len(lost)}")
        print(f"  still queued        {queued}")
        print(f"  dead-lettered       {dead}")
        print(f"  sends refused       {self.refused} (sent again until acknowledged)")
        if latencies:
            print(
                f"  latency p50 {percentile(latencies, 0.5):.0f} ms,"
                f" p99 {percentile(latencies, 0.99):.0f} ms (first sent to delivered)"
            )
        for event_id in lost[:10]:
            print(f"  LOST {event_id}")
        return len(lost)


class Node:
    """One daemon on its own state directory, which survives its being killed."""

    def __init__(self, home: Path, app_url: str, redis_url: str | None = None) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "olactors.toml"
        store = (
            f'backend = "redis"\nredis_url = "{redis_url}"\n'
            if redis_url
            else f'sqlite_path = "{home / "chaos.db"}"\n'
        )
        self.config.write_text(
            '[server]\npublic_bind = "127.0.0.1:0"\n[admin]\nbind = "127.0.0.1:0"\n'
            '[api]\nbind = "127.0.0.1:0"\n'
            f'[daemon]\nstate_dir = "{home}"\n[store]\n{store}'
            f"[webhooks]\nretry_schedule_s = {RETRY}\nlease_s = 5.0\n"
            '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["CHAOS_WHSEC"]\n'
            '[[webhooks.routes]]\nname = "to-app"\nsource = "stripe"\nevents = ["*"]\n'
            f'forward_to = "{app_url}/hooks"\nsigning_secret_env = "CHAOS_APP_SECRET"\n'
            # A breaker that tries again within seconds: the drain is waited for.
            "timeout_s = 2.0\nbreaker = { open_s = 1.0, max_open_s = 4.0, trial_timeout_s = 3.0 }\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.public = self.admin = ""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.home / f"daemon.{self.starts}.log"
        env = {
            **os.environ,
            "CHAOS_WHSEC": SECRET,
            "CHAOS_APP_SECRET": APP_SECRET,
            "OLACTORS_ADMIN_TOKEN": TOKEN,
            # On Redis, replicas share it: it is never generated there.
            "OLACTORS_SUBSCRIBER_KEY": "chaos-subscriber-key-0123456789abcdef0123",
        }
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "olactors", "run", "--config", str(self.config)],
                env=env,
                stderr=sink,
            )
        self.public, self.admin = listening(self.process, log)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None

    def queues(self) -> tuple[int, int]:
        """(still queued, dead-lettered) across its queues."""
        answer = httpx.get(
            f"{self.admin}/queues", headers={"authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        counts = answer.json()
        queued = sum(
            c["ready"] + c["leased"] + c["delayed"] + c.get("held", 0) for c in counts.values()
        )
        return queued, sum(c["dead"] for c in counts.values())


async def send_all(node: Node, ledger: Ledger, rate: float, duration: float) -> None:
    """Open loop: each event on its schedule, sent again until the daemon answers 200."""

    async def one(n: int) -> None:
        event_id, body, headers = signed(n)
        ledger.sent[event_id] = time.time()
        while True:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    answer = await client.post(
                        f"{node.public}/webhooks/stripe", content=body, headers=headers
                    )
                if answer.status_code == 200:
                    ledger.acked[event_id] = time.time()
                    return
            except httpx.HTTPError:
                pass
            ledger.refused += 1
            await trio.sleep(0.2)
            event_id, body, headers = signed(n)  # the same id, signed anew

    async with trio.open_nursery() as nursery:
        began = trio.current_time()
        for n in range(int(rate * duration)):
            await trio.sleep_until(began + n / rate)
            nursery.start_soon(one, n)


Fault = Callable[[Node, App], Awaitable[None]]


async def under_load(
    workdir: Path,
    name: str,
    rate: float,
    duration: float,
    fault: Fault,
    redis_url: str | None = None,
) -> tuple[Ledger, App, Node, int, int]:
    """A daemon and its app, the load for ``duration`` with ``fault`` going meanwhile,
    then the drain: the ledger, and what is still queued and dead-lettered."""
    app = App()
    ledger = Ledger()
    async with trio.open_nursery() as nursery:
        await nursery.start(app.serve)
        node = Node(workdir / name, app.url, redis_url)
        await trio.to_thread.run_sync(node.start)
        async with trio.open_nursery() as chaos:
            chaos.start_soon(fault, node, app)
            await send_all(node, ledger, rate, duration)
            chaos.cancel_scope.cancel()
        app.mode = "ok"
        await drain(ledger, app)
        queued, dead = await trio.to_thread.run_sync(node.queues)
        await trio.to_thread.run_sync(node.stop)
        nursery.cancel_scope.cancel()
    return ledger, app, node, queued, dead


async def kill(workdir: Path, rate: float, duration: float, period: float) -> int:
    async def fault(node: Node, app: App) -> None:
        while True:
            await trio.sleep(period)
            await trio.to_thread.run_sync(node.kill)
            await trio.to_thread.run_sync(node.start)

    ledger, app, node, queued, dead = await under_load(workdir, "kill", rate, duration, fault)
    print(
        f"kill: SIGKILL every {period:g} s under {rate:g} events/s for {duration:g} s "
        f"({node.starts - 1} kills)"
    )
    return ledger.report(app, queued, dead)


async def destination(workdir: Path, rate: float, duration: float, period: float) -> int:
    """The app fails in turn: 5xx, connection resets, hangs past the route's time limit,
    429 with Retry-After; then it takes events again and the backlog drains."""
    modes = ["503", "reset", "hang", "429", "ok"]

    async def fault(node: Node, app: App) -> None:
        for mode in modes:
            app.mode = mode
            await trio.sleep(period)

    ledger, app, _, queued, dead = await under_load(workdir, "destination", rate, duration, fault)
    print(
        f"destination: the app answers {', '.join(modes)} in turn, {period:g} s each, "
        f"under {rate:g} events/s for {duration:g} s"
    )
    return ledger.report(app, queued, dead)


async def redis(workdir: Path, rate: float, duration: float, period: float) -> int:
    """The daemon on Redis (append-only, fsync always): Redis stopped for --period
    seconds and started again, then frozen (SIGSTOP) as long and thawed, in turn."""
    with RedisServer(workdir / "redis-data") as server:

        async def fault(node: Node, app: App) -> None:
            while True:
                await trio.sleep(period)
                await trio.to_thread.run_sync(server.stop)
                await trio.sleep(period)
                await trio.to_thread.run_sync(server.start)
                await trio.sleep(period)
                assert server.process is not None
                server.process.send_signal(signal.SIGSTOP)
                try:
                    await trio.sleep(period)
                finally:
                    server.process.send_signal(signal.SIGCONT)

        ledger, app, _, queued, dead = await under_load(
            workdir, "redis", rate, duration, fault, server.url
        )
    print(
        f"redis: Redis stopped, started, frozen and thawed, {period:g} s each, "
        f"under {rate:g} events/s for {duration:g} s"
    )
    return ledger.report(app, queued, dead)


async def drain(ledger: Ledger, app: App) -> None:
    """Until every acknowledged event arrived, or a minute: what is missing then is lost."""
    with trio.move_on_after(60):
        while not set(ledger.acked) <= set(app.arrived):
            await app.changed.wait()


SCENARIOS = {"kill": kill, "destination": destination, "redis": redis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--period", type=float, default=2.0)
    args = parser.parse_args()
    chosen = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    lost = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in chosen:
            lost += trio.run(SCENARIOS[name], Path(folder), args.rate, args.duration, args.period)
    print(json.dumps({"lost": lost}))
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
