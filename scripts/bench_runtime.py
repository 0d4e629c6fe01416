"""Runtime throughput against bare trio channels, measured in the same run.

Prints messages per second for:

* tell: one actor telling another N messages, against two bare tasks over
  one memory channel of the same capacity;
* ask: one actor asking another N times in sequence, against a bare
  request/reply over two memory channels;

and the ratio ours/bare for each. Rounds alternate bare and ours so that
drift in the machine's speed hits both; the median of the rounds is quoted,
with min and max to show the noise.

* tree: children per second to build, start and stop one flat supervisor of
  ``--children`` actors, against one a tenth of its size: a ratio near 1 says
  the work per child does not grow with its siblings (linear time), and the
  seconds for the large tree are printed.

    python scripts/bench_runtime.py [--messages 200000] [--asks 50000] [--children 10000]
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import trio

from benchreport import report
from olactors.runtime import Actor, ActorRef, ActorSpec, ActorSystem, SupervisorSpec

CAPACITY = 1000


class Ping(msgspec.Struct, frozen=True):
    n: int = 0


class Blast(msgspec.Struct, frozen=True):
    count: int


class Counter(Actor[Ping]):
    def __init__(self, expect: int, done: trio.Event) -> None:
        self.seen = 0
        self.expect = expect
        self.done = done

    async def receive(self, message: Ping) -> None:
        self.seen += 1
        if self.seen == self.expect:
            self.done.set()


class Echo(Actor[Ping]):
    async def receive(self, message: Ping) -> Ping:
        return message


class Teller(Actor[Blast]):
    """Tells its target ``count`` pings: actor to actor."""

    async def receive(self, message: Blast) -> None:
        target: ActorRef[Ping] = self.context.actor_ref("/bench/counter")
        ping = Ping()
        for _ in range(message.count):
            await target.tell(ping)


class Asker(Actor[Blast]):
    """Asks its target ``count`` times in sequence: actor to actor."""

    async def receive(self, message: Blast) -> None:
        target: ActorRef[Ping] = self.context.actor_ref("/bench/echo")
        ping = Ping()
        for _ in range(message.count):
            await target.ask(ping)


async def bare_tell(n: int) -> float:
    send, receive = trio.open_memory_channel[Ping](CAPACITY)
    ping = Ping()

    async def producer() -> None:
        for _ in range(n):
            await send.send(ping)

    async def consumer() -> None:
        for _ in range(n):
            await receive.receive()

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        nursery.start_soon(producer)
    return time.perf_counter() - start


async def bare_ask(n: int) -> float:
    req_send, req_recv = trio.open_memory_channel[Ping](CAPACITY)
    rep_send, rep_recv = trio.open_memory_channel[Ping](CAPACITY)
    ping = Ping()

    async def server() -> None:
        async for message in req_recv:
            await rep_send.send(message)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        for _ in range(n):
            await req_send.send(ping)
            await rep_recv.receive()
        elapsed = time.perf_counter() - start
        await req_send.aclose()
    return elapsed


async def ours_tell(n: int) -> float:
    done = trio.Event()
    spec = SupervisorSpec(
        "bench",
        children=[
            ActorSpec("counter", lambda: Counter(n, done), mailbox_capacity=CAPACITY),
            ActorSpec("teller", Teller, mailbox_capacity=CAPACITY),
        ],
    )
    return await _timed(spec, "/bench/teller", Blast(n), done.wait)


async def ours_ask(n: int) -> float:
    done = trio.Event()

    class TimedAsker(Asker):
        async def receive(self, message: Blast) -> None:
            await super().receive(message)
            done.set()

    spec = SupervisorSpec(
        "bench",
        children=[
            ActorSpec("echo", Echo, mailbox_capacity=CAPACITY),
            ActorSpec("asker", TimedAsker, mailbox_capacity=CAPACITY),
        ],
    )
    return await _timed(spec, "/bench/asker", Blast(n), done.wait)


async def _timed(
    spec: SupervisorSpec, path: str, kick: Any, finished: Callable[[], Awaitable[Any]]
) -> float:
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        start = time.perf_counter()
        await system.actor_ref(path).tell(kick)
        await finished()
        elapsed = time.perf_counter() - start
        system.shutdown()
    return elapsed


async def flat_tree(n: int) -> float:
    """Seconds to build, start and stop a supervisor with ``n`` idle actors."""
    start = time.perf_counter()
    children = [ActorSpec(f"a{i}", Echo) for i in range(n)]
    system = ActorSystem(SupervisorSpec("bench", children=[SupervisorSpec("flat", children)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        system.shutdown()
    return time.perf_counter() - start


def measure_tree(rounds: int, n: int) -> tuple[list[float], list[float], float]:
    small_rates, large_rates, large_s = [], [], []
    for _ in range(rounds):
        small_rates.append(n // 10 / trio.run(flat_tree, n // 10))
        large_s.append(trio.run(flat_tree, n))
        large_rates.append(n / large_s[-1])
    return small_rates, large_rates, statistics.median(large_s)


Runner = Callable[[int], Awaitable[float]]


def measure(rounds: int, n: int, bare: Runner, ours: Runner) -> tuple[list[float], list[float]]:
    bare_rates, our_rates = [], []
    for _ in range(rounds):
        bare_rates.append(n / trio.run(bare, n))
        our_rates.append(n / trio.run(ours, n))
    return bare_rates, our_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--asks", type=int, default=50_000)
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # One warm-up of each, not counted: imports, allocator, caches.
    measure(1, 1000, bare_tell, ours_tell)
    measure(1, 1000, bare_ask, ours_ask)
    report("tell", "msg/s", *measure(args.rounds, args.messages, bare_tell, ours_tell), goal=0.7)
    report("ask", "msg/s", *measure(args.rounds, args.asks, bare_ask, ours_ask), goal=0.5)
    small, large, large_s = measure_tree(args.rounds, args.children)
    labels = (f"{args.children // 10:,} children", f"{args.children:,} children")
    report("tree (build, start, stop)", "children/s", small, large, goal=0.8, labels=labels)
    print(f"  {args.children:,} children: median {large_s:.3f} s")


if __name__ == "__main__":
    main()
