"""Requests per second through the full client stack against bare httpx, in one run.

A local provider (olactors.testing.FakeProvider, real HTTP/1.1) runs in its
own process. The same load, ``--requests`` GETs from ``--concurrency`` tasks,
goes once through a bare ``httpx.AsyncClient`` and once through
``ProviderClient``: rate limiter actor (limits set high), circuit breaker
actor, retry policy and metrics in the path, no cache (every call reaches the
provider). Rounds alternate bare and ours; the median is quoted, with min and
max to show the noise.

    python scripts/bench_clients.py [--requests 3000] [--concurrency 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
import trio

from benchreport import report
from olactors.clients import ClientSettings, ProviderClient
from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSystem, SupervisorSpec

SERVER = """
import sys, trio
from olactors.testing import Canned, FakeProvider

async def main():
    provider = FakeProvider(Canned(200, json={"id": "pi_123", "object": "payment_intent"}))
    async with trio.open_nursery() as nursery:
        await nursery.start(provider.serve)
        print(provider.port, flush=True)
        provider.requests = _Forgetful()

class _Forgetful(list):
    def append(self, item):  # a long run must not keep every request
        pass

trio.run(main)
"""

LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32)


#: Client-process CPU seconds per request of the last load (the server has its own process).
cpu_per_request: list[float] = []


async def load(call: Callable[[], Awaitable[object]], requests: int, concurrency: int) -> float:
    each = requests // concurrency

    async def worker() -> None:
        for _ in range(each):
            await call()

    start, cpu = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    done = each * concurrency
    cpu_per_request.append((time.process_time() - cpu) / done)
    return done / (time.perf_counter() - start)


async def bare(url: str, requests: int, concurrency: int) -> float:
    async with httpx.AsyncClient(base_url=url, limits=LIMITS, timeout=10) as client:

        async def call() -> None:
            response = await client.get("/v1/payment_intents/pi_123")
            response.raise_for_status()

        return await load(call, requests, concurrency)


async def ours(url: str, requests: int, concurrency: int) -> float:
    limits = {"stripe": (RateLimit(rate_per_s=1_000_000, burst=1000), BreakerSettings())}
    system = ActorSystem(SupervisorSpec("root", children=[resilience_spec(limits)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        guard = ProviderGuard.at(system, "/root/resilience", "stripe")
        settings = ClientSettings(base_url=url, max_connections=32, max_keepalive=32)
        async with ProviderClient("stripe", settings, guard) as client:

            async def call() -> None:
                await client.request("GET", "/v1/payment_intents/pi_123", endpoint="pi.get")

            rate = await load(call, requests, concurrency)
        system.shutdown()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        trio.run(bare, url, 200, args.concurrency)  # warm-ups, not counted
        trio.run(ours, url, 200, args.concurrency)
        bare_rates, our_rates, bare_cpu, our_cpu = [], [], [], []
        for _ in range(args.rounds):
            bare_rates.append(trio.run(bare, url, args.requests, args.concurrency))
            bare_cpu.append(cpu_per_request[-1])
            our_rates.append(trio.run(ours, url, args.requests, args.concurrency))
            our_cpu.append(cpu_per_request[-1])
        title = f"GET through the client stack, {args.concurrency} concurrent"
        report(title, "req/s", bare_rates, our_rates, goal=0.85)
        # Requests per client CPU second: what the stack costs, whatever the server's speed.
        report(
            "client CPU efficiency (requests per CPU second of the client process)",
            "req/cpu-s",
            [1 / c for c in bare_cpu],
            [1 / c for c in our_cpu],
            goal=None,
        )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
