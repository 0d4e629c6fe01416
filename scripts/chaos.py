"""Chaos under load, proven by a ledger: nothing the daemon acknowledged is lost.

    python scripts/chaos.py SCENARIO|all [--duration 10] [--rate 50] [--period 2]
                            [--backend sqlite|redis] [--replicas 1]

Each scenario starts its own daemons (``olactors run``: on sqlite with fsync at
every commit, ``--replicas`` processes under one parent on one database file;
on Redis, ``--replicas`` daemons of their own on one redis-server started for
the run) forwarding a Stripe source to a receiving app of this process. It
sends validly signed events at ``--rate`` for ``--duration`` seconds (loopback
only; spread over the daemons as a balancer would; an event not answered 200
is sent again with the same id, as Stripe does), injects its fault, waits for
the drain, and prints the ledger: every acknowledgement and every delivery,
counted. Exit 1 on any acknowledged event that never arrived.

Scenarios:
  kill         SIGKILL every --period seconds: the daemon (started again on the same
               store), one replica of several on Redis (started again), or one of
               a parent's processes on sqlite (the parent starts it again; every
               fourth time the parent itself, its processes stopping in order).
  destination  the app answers 503, resets connections, hangs past the route's time
               limit, answers 429 with Retry-After, answers slowly, answers 410 Gone
               (an operator resumes the route), --period seconds each, then takes
               events again.
  handler      the route is a Python handler that raises anything (SystemExit among
               it), then blocks past its time limit, then delivers, in turn.
  redis        on Redis: Redis stopped and started, then frozen (SIGSTOP) and thawed,
               --period seconds each, in a loop.
  partition    on Redis, two replicas or more: the last one reaches Redis through a
               proxy that drops every connection for --period seconds, in a loop.
  disk         on sqlite on a 64 MiB tmpfs: the disk filled to the last byte, then
               freed, --period seconds each (skipped where no tmpfs can be mounted).
  crash        actors crashed at random inside the daemon through its fault hook
               ([chaos] enabled), one every --period seconds on average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from bench_e2e import TOKEN, App, daemon_env, listening, percentile, signed
from olactors.testing import RedisServer

#: How long past the load an event is still sent again, until a daemon acknowledges it.
GIVE_UP_S = 60.0

#: Waits between delivery attempts, short: a drain is measured in seconds.
RETRY = "[0.1, 0.2, 0.5, 1.0, 1.0, 2.0, 2.0, 2.0, 5.0, 5.0]"


@dataclass
class Ledger:
    #: Each event's first send (its latency runs from there: a delivery may come
    #: before the 200 it raced, or before a resend's) and its acknowledgement.
    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    refused: int = 0

    def report(self, app: App, queued: int, dead: set[str]) -> int:
        """Print the ledger; the number of acknowledged events neither delivered nor
        dead-lettered (by id) once the drain ended. With the queues empty they are lost;
        with items still queued the drain did not finish, and that fails the run too."""
        once = sum(1 for e in self.acked if app.times.get(e, 0) == 1)
        more = sum(1 for e in self.acked if app.times.get(e, 0) > 1)
        undelivered = [e for e in self.acked if e not in app.arrived and e not in dead]
        lost = [] if queued else undelivered
        latencies = sorted(
            1000 * (app.arrived[e] - self.sent[e]) for e in self.acked if e in app.arrived
        )
        print(f"  acknowledged        {len(self.acked)}")
        if unacked := len(self.sent) - len(self.acked):
            print(f"  never acknowledged  {unacked} (no daemon took them: not a loss)")
        print(f"  delivered once      {once}")
        print(f"  delivered 2+ times  {more}")
        print(f"  lost                {len(lost)}")
        print(f"  still queued        {queued}")
        if queued and undelivered:
            print(f"  UNDELIVERED         {len(undelivered)} (the drain did not finish)")
        print(f"  dead-lettered       {len(dead)}")
        print(f"  sends refused       {self.refused} (sent again until acknowledged)")
        if latencies:
            print(
                f"  latency p50 {percentile(latencies, 0.5):.0f} ms,"
                f" p99 {percentile(latencies, 0.99):.0f} ms (first sent to delivered)"
            )
        for event_id in lost[:10]:
            print(f"  LOST {event_id}")
        return len(undelivered)


class Node:
    """One ``olactors run`` (a parent of ``processes`` daemons when above 1) on its own
    state directory, which survives its being killed."""

    def __init__(
        self,
        home: Path,
        app_url: str,
        redis_url: str | None = None,
        *,
        processes: int = 1,
        sqlite_path: Path | None = None,
        route: str = "",
        extra: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "olactors.toml"
        store = (
            f'backend = "redis"\nredis_url = "{redis_url}"\n'
            if redis_url
            else f'sqlite_path = "{sqlite_path or home / "chaos.db"}"\n'
        )
        route = route or (
            f'forward_to = "{app_url}/hooks"\nsigning_secret_env = "BENCH_APP_SECRET"\n'
        )
        self.config.write_text(
            f'[server]\npublic_bind = "127.0.0.1:0"\nprocesses = {processes}\n'
            '[admin]\nbind = "127.0.0.1:0"\n[api]\nbind = "127.0.0.1:0"\n'
            f'[daemon]\nstate_dir = "{home}"\n[store]\n{store}'
            f"[webhooks]\nretry_schedule_s = {RETRY}\nlease_s = 5.0\n"
            '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["BENCH_WHSEC"]\n'
            '[[webhooks.routes]]\nname = "to-app"\nsource = "stripe"\nevents = ["*"]\n'
            f"{route}"
            # A breaker that tries again within seconds: the drain is waited for.
            "timeout_s = 2.0\nbreaker = { open_s = 1.0, max_open_s = 4.0, trial_timeout_s = 3.0 }\n"
            f"{extra}"
        )
        self.processes = processes
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.public = self.admin = ""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.home / f"daemon.{self.starts}.log"
        scripts = os.pathsep.join([str(Path(__file__).parent), *sys.path])
        env = {**daemon_env(scripts), **self.env}
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "olactors", "run", "--config", str(self.config)],
                env=env,
                stderr=sink,
            )
        self.public, self.admin = listening(self.process, log)

    @property
    def up(self) -> bool:
        return self.process is not None

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=120)
            self.process = None

    def admin_call(self, method: str, path: str) -> Any:
        answer = httpx.request(
            method,
            f"{self.admin}{path}",
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    def queues(self) -> tuple[int, set[str]]:
        """Items still queued across its queues, and the ids of the dead-lettered ones."""
        counts = self.admin_call("GET", "/queues")
        queued = sum(
            c["ready"] + c["leased"] + c["delayed"] + c.get("held", 0) for c in counts.values()
        )
        dead: set[str] = set()
        for queue, c in counts.items():
            if c["dead"]:
                page = self.admin_call("GET", f"/dead-letters?queue={queue}&limit=1000")
                dead |= {item["id"] for item in page["items"]}
        return queued, dead

    def children(self) -> list[int]:
        """The pids of this parent's daemon processes that are alive now: listed by the
        admin and, to the kernel, children of this parent (a killed one's record lingers)."""
        assert self.process is not None
        records = self.admin_call("GET", "/processes")["processes"]
        return [
            r["pid"]
            for r in records
            if r["parent"] == self.process.pid and _parent_of(r["pid"]) == self.process.pid
        ]


@dataclass
class Cluster:
    """The daemons of one scenario, behind a balancer: the sender spreads events over
    every one that is up, and one that refuses an event sends it to the next."""

    nodes: list[Node]

    def publics(self) -> list[str]:
        return [node.public for node in self.nodes if node.up]

    def any_up(self) -> Node:
        return next(node for node in self.nodes if node.up)


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[1])


async def send_all(cluster: Cluster, ledger: Ledger, rate: float, duration: float) -> None:
    """Open loop: each event on its schedule, sent again until a daemon answers 200."""

    async def one(n: int) -> None:
        event_id, body, headers = signed(n)
        ledger.sent[event_id] = time.time()
        attempt = n
        while trio.current_time() < give_up_at:
            publics = cluster.publics()
            try:
                if not publics:
                    raise httpx.ConnectError("no daemon up")
                async with httpx.AsyncClient(timeout=5) as client:
                    answer = await client.post(
                        f"{publics[attempt % len(publics)]}/webhooks/stripe",
                        content=body,
                        headers=headers,
                    )
                if answer.status_code == 200:
                    ledger.acked[event_id] = time.time()
                    return
            except httpx.HTTPError:
                pass
            ledger.refused += 1
            attempt += 1
            await trio.sleep(0.2)
            event_id, body, headers = signed(n)  # the same id, signed anew

    began = trio.current_time()
    # A daemon down for good (its root gave up) leaves events unacknowledged,
    # and the ledger says how many, rather than the run hanging.
    give_up_at = began + duration + GIVE_UP_S
    async with trio.open_nursery() as nursery:
        for n in range(int(rate * duration)):
            await trio.sleep_until(began + n / rate)
            nursery.start_soon(one, n)


Fault = Callable[[Cluster, App], Awaitable[None]]


@dataclass
class Setup:
    """How a scenario's daemons run: ``--backend``, ``--replicas`` and its own additions."""

    backend: str = "sqlite"
    replicas: int = 1
    redis_url: str | None = None
    #: Per replica: the Redis URL it uses (a partition puts a proxy before one).
    redis_urls: list[str] = field(default_factory=list)
    sqlite_path: Path | None = None
    route: str = ""
    extra: str = ""
    env: dict[str, str] = field(default_factory=dict)


def build(workdir: Path, name: str, app: App, setup: Setup) -> Cluster:
    """On Redis, ``replicas`` daemons of their own; on sqlite, one parent of that many
    processes on the one database file (how sqlite runs on several cores)."""
    if setup.backend == "redis":
        urls = setup.redis_urls or [setup.redis_url or ""] * setup.replicas
        nodes = [
            Node(
                workdir / f"{name}-{i}",
                app.url,
                urls[i],
                route=setup.route,
                extra=setup.extra,
                env=setup.env,
            )
            for i in range(setup.replicas)
        ]
        return Cluster(nodes)
    node = Node(
        workdir / name,
        app.url,
        processes=setup.replicas,
        sqlite_path=setup.sqlite_path,
        route=setup.route,
        extra=setup.extra,
        env=setup.env,
    )
    return Cluster([node])


async def under_load(
    workdir: Path, name: str, rate: float, duration: float, fault: Fault, setup: Setup
) -> tuple[Ledger, App, Cluster, int, set[str]]:
    """The daemons and their app, the load for ``duration`` with ``fault`` going
    meanwhile, then the drain: the ledger, and what is still queued and dead-lettered."""
    app = App()
    ledger = Ledger()
    with contextlib.ExitStack() as stack:
        if setup.backend == "redis" and setup.redis_url is None and not setup.redis_urls:
            setup.redis_url = stack.enter_context(RedisServer(workdir / f"{name}-redis")).url
        async with trio.open_nursery() as nursery:
            await nursery.start(app.serve)
            setup.env.setdefault("CHAOS_APP_URL", app.url)
            cluster = build(workdir, name, app, setup)
            try:
                for node in cluster.nodes:
                    await trio.to_thread.run_sync(node.start)
                async with trio.open_nursery() as chaos:
                    chaos.start_soon(fault, cluster, app)
                    await send_all(cluster, ledger, rate, duration)
                    chaos.cancel_scope.cancel()
                app.mode = "ok"
                for node in cluster.nodes:
                    if not node.up:
                        await trio.to_thread.run_sync(node.start)
                queued, dead = await drain(cluster.any_up())
                for node in cluster.nodes:
                    await trio.to_thread.run_sync(node.stop)
            finally:
                for node in cluster.nodes:  # a scenario that failed leaves no daemon behind
                    node.kill()
            nursery.cancel_scope.cancel()
    return ledger, app, cluster, queued, dead


@dataclass
class Options:
    rate: float
    duration: float
    period: float
    backend: str
    replicas: int

    def setup(self, **changes: Any) -> Setup:
        return Setup(backend=self.backend, replicas=self.replicas, **changes)

    @property
    def load(self) -> str:
        return f"under {self.rate:g} events/s for {self.duration:g} s"

    def where(self, setup: Setup) -> str:
        if setup.backend == "redis":
            return f"{setup.replicas} replica(s) on Redis"
        return f"{setup.replicas} process(es) on sqlite"


async def run(workdir: Path, name: str, o: Options, setup: Setup, fault: Fault, what: str) -> int:
    ledger, app, _, queued, dead = await under_load(workdir, name, o.rate, o.duration, fault, setup)
    print(f"{name}: {what}, {o.load}, {o.where(setup)}")
    return ledger.report(app, queued, dead)


async def kill(workdir: Path, o: Options) -> int:
    """SIGKILL under load, every --period seconds: the daemon (started again on the same
    store), or one replica of several (started again), or one of a parent's processes
    (which the parent starts again) and, every fourth time, the parent itself (its
    processes see their lifeline close and stop in order; it is started again)."""
    picker = random.Random(7)
    kills = 0

    async def fault(cluster: Cluster, app: App) -> None:
        nonlocal kills
        while True:
            await trio.sleep(o.period)
            if o.replicas > 1 and o.backend == "sqlite" and (kills + 1) % 4:
                (node,) = cluster.nodes
                try:
                    pids = await trio.to_thread.run_sync(node.children)
                except httpx.HTTPError as exc:
                    # The admin's answer may come from the very process killed last.
                    print(f"  (the admin did not say which processes run: {exc!r})")
                    continue
                if pids:
                    with contextlib.suppress(ProcessLookupError):  # it died meanwhile
                        os.kill(picker.choice(pids), signal.SIGKILL)
                        kills += 1
                continue
            node = picker.choice(cluster.nodes)
            await trio.to_thread.run_sync(node.kill)
            kills += 1
            await trio.to_thread.run_sync(node.start)

    victim = "a daemon" if o.replicas == 1 else f"one of {o.replicas}"
    if o.replicas > 1 and o.backend == "sqlite":
        victim += " processes (every fourth time their parent)"
    return await run(
        workdir, "kill", o, o.setup(), fault, f"SIGKILL of {victim} every {o.period:g} s"
    )


async def destination(workdir: Path, o: Options) -> int:
    """The app fails in turn: 5xx, connection resets, hangs past the route's time limit,
    429 with Retry-After, answers slowly, 410 Gone (which disables the route: an operator
    resumes it), then it takes events again and the backlog drains."""
    modes = ["503", "reset", "hang", "429", "slow", "410", "ok"]

    async def fault(cluster: Cluster, app: App) -> None:
        for mode in modes:
            app.mode = mode
            await trio.sleep(o.period)
            if mode == "410":
                app.mode = "ok"
                await trio.to_thread.run_sync(
                    cluster.any_up().admin_call, "POST", "/routes/webhooks.stripe/to-app/resume"
                )

    what = f"the app answers {', '.join(modes)} in turn, {o.period:g} s each"
    return await run(workdir, "destination", o, o.setup(), fault, what)


async def handler(workdir: Path, o: Options) -> int:
    """The route is a Python handler that raises (anything, SystemExit among it), then
    blocks past its time limit, then delivers, in turn."""
    mode_file = workdir / "handler-mode"
    mode_file.write_text("ok")
    setup = o.setup(
        route='handler = "chaos_handler:deliver"\n',
        env={"CHAOS_HANDLER_MODE_FILE": str(mode_file)},
    )

    async def fault(cluster: Cluster, app: App) -> None:
        try:
            while True:
                for mode in ("raise", "block", "ok"):
                    mode_file.write_text(mode)
                    await trio.sleep(o.period)
        finally:
            mode_file.write_text("ok")  # the load is over: the drain delivers

    what = f"the route's handler raises, blocks, delivers in turn, {o.period:g} s each"
    return await run(workdir, "handler", o, setup, fault, what)


async def redis(workdir: Path, o: Options) -> int:
    """The daemon(s) on Redis (append-only, fsync always): Redis stopped for --period
    seconds and started again, then frozen (SIGSTOP) as long and thawed, in turn."""
    with RedisServer(workdir / "redis-data") as server:

        async def fault(cluster: Cluster, app: App) -> None:
            while True:
                await trio.sleep(o.period)
                await trio.to_thread.run_sync(server.stop)
                await trio.sleep(o.period)
                await trio.to_thread.run_sync(server.start)
                await trio.sleep(o.period)
                assert server.process is not None
                server.process.send_signal(signal.SIGSTOP)
                try:
                    await trio.sleep(o.period)
                finally:
                    server.process.send_signal(signal.SIGCONT)

        setup = Setup(backend="redis", replicas=o.replicas, redis_url=server.url)
        what = f"Redis stopped, started, frozen and thawed, {o.period:g} s each"
        return await run(workdir, "redis", o, setup, fault, what)


async def partition(workdir: Path, o: Options) -> int:
    """Two replicas (or --replicas) on Redis, the last through a proxy that drops every
    connection and refuses new ones for --period seconds, then lets them through again."""
    replicas = max(2, o.replicas)
    with RedisServer(workdir / "redis-data") as server:
        proxy = Partition(server.port)
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.serve)
            urls = [server.url] * (replicas - 1) + [proxy.url]

            async def fault(cluster: Cluster, app: App) -> None:
                while True:
                    await trio.sleep(o.period)
                    await proxy.cut()
                    await trio.sleep(o.period)
                    proxy.heal()

            setup = Setup(backend="redis", replicas=replicas, redis_urls=urls)
            what = f"the last replica cut off from Redis and let back, {o.period:g} s each"
            try:
                return await run(workdir, "partition", o, setup, fault, what)
            finally:
                nursery.cancel_scope.cancel()


async def disk(workdir: Path, o: Options) -> int:
    """sqlite on a small tmpfs: the disk filled to the last byte for --period seconds,
    then freed, in turn. Ingress refuses what it cannot store; nothing acknowledged goes."""
    mount = workdir / "small-disk"
    mount.mkdir()
    mounted = await trio.run_process(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
        capture_stderr=True,
        check=False,
    )
    if mounted.returncode != 0:
        print(f"disk: skipped, cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
        return 0
    try:
        filler = mount / "filler"

        async def fault(cluster: Cluster, app: App) -> None:
            while True:
                await trio.sleep(o.period)
                await trio.to_thread.run_sync(fill, filler)
                await trio.sleep(o.period)
                filler.unlink(missing_ok=True)

        setup = Setup(backend="sqlite", replicas=o.replicas, sqlite_path=mount / "chaos.db")
        what = f"the store's disk (64 MiB tmpfs) full and freed, {o.period:g} s each"
        return await run(workdir, "disk", o, setup, fault, what)
    finally:
        with trio.CancelScope(shield=True):
            await trio.run_process(["umount", "-l", str(mount)], check=False)


def fill(filler: Path) -> None:
    """Take every free byte of the filesystem ``filler`` is on (unbuffered: a buffered
    file would fail again at its close, flushing what no longer fits)."""
    with contextlib.suppress(OSError), filler.open("ab", buffering=0) as file:
        for size in (1_048_576, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    file.write(b"\0" * size)


async def crash(workdir: Path, o: Options) -> int:
    """Actors crashed at random inside the daemon ([chaos] enabled: the fault hook), a
    crash every --period seconds on average (through the drain too), among the delivery
    actors (the route's courier, with leases and attempts in hand)."""
    every = o.period
    extra = (
        f"[chaos]\nenabled = true\ncrash_every_s = {every:g}\nseed = 7\n"
        'targets = ["/root/delivery/**"]\n'
    )
    setup = o.setup(extra=extra)

    async def fault(cluster: Cluster, app: App) -> None:
        await trio.sleep_forever()

    what = f"an actor crashed at random every {every:g} s on average"
    return await run(workdir, "crash", o, setup, fault, what)


class Partition:
    """A TCP proxy before Redis that can cut a replica off: ``cut`` resets every
    connection through it and refuses new ones (accepted, then reset) until ``heal``."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.url = ""
        self.open = True
        self._streams: set[trio.SocketStream] = set()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.url = f"redis://127.0.0.1:{listeners[0].socket.getsockname()[1]}/0"
        task_status.started()
        await trio.serve_listeners(self._pipe, listeners)

    async def _pipe(self, client: trio.SocketStream) -> None:
        if not self.open:
            await _reset(client)
            return
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.redis_port)
        except OSError:
            await _reset(client)
            return
        self._streams |= {client, server}
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_copy, client, server, nursery.cancel_scope)
                nursery.start_soon(_copy, server, client, nursery.cancel_scope)
        finally:
            self._streams -= {client, server}
            for stream in (client, server):
                await _reset(stream)

    async def cut(self) -> None:
        self.open = False
        for stream in list(self._streams):
            await _reset(stream)

    def heal(self) -> None:
        self.open = True


async def _copy(
    source: trio.SocketStream, sink: trio.SocketStream, scope: trio.CancelScope
) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    scope.cancel()


async def _reset(stream: trio.SocketStream) -> None:
    """Close with a reset, as a dropped link looks to both ends."""
    with contextlib.suppress(OSError):
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()


async def drain(node: Node) -> tuple[int, set[str]]:
    """Until the queues are empty (a delivery whose acknowledgement a crash cut off comes
    again once its lease runs out: a duplicate, counted), or a minute. What is still
    queued then, and the ids of what was dead-lettered."""
    with trio.move_on_after(60):
        while True:
            try:
                queued, _ = await trio.to_thread.run_sync(node.queues)
            except httpx.HTTPError:
                queued = -1  # every process of a parent restarting: ask again
            if not queued:
                break
            await trio.sleep(0.2)
    return await trio.to_thread.run_sync(node.queues)


SCENARIOS: dict[str, Callable[[Path, Options], Awaitable[int]]] = {
    "kill": kill,
    "destination": destination,
    "handler": handler,
    "redis": redis,
    "partition": partition,
    "disk": disk,
    "crash": crash,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--backend", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="run in DIR and keep the daemons' logs there"
    )
    args = parser.parse_args()
    options = Options(args.rate, args.duration, args.period, args.backend, args.replicas)
    chosen = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    lost = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in chosen:
            workdir = (args.keep or Path(folder)) / name
            workdir.mkdir(parents=True)
            lost += trio.run(SCENARIOS[name], workdir, options)
    print(json.dumps({"lost": lost}))
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
