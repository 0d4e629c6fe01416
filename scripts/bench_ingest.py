"""Webhook ingest throughput: olactors against a bare hypercorn app, in one run.

Starts, each in its own process:
* olactors (``olactors run``, sqlite store with fsync at every commit) with a
  Stripe source: every request is verified, deduplicated, durably stored
  (group commit) and answered 200;
* a bare hypercorn (trio worker) ASGI app that answers 200 without work;
and drives both with the same load from a third process: ``--connections``
keep-alive connections sending distinct, validly signed Stripe events (a new
event id each, so every one is stored), for ``--seconds``. Rounds alternate
bare and olactors; it prints requests/s, p50 and p99 for both, and the ratio.

    python scripts/bench_ingest.py [--seconds 5] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from benchreport import report

SECRET = "whsec_benchSecret0123456789abcdef"

BARE = """
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    while (await receive()).get("more_body"):
        pass
    body = b'{"status":"queued"}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

async def main():
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        print(binds[0], flush=True)

trio.run(main)
"""


def signed_request(n: int, host: str) -> bytes:
    body = json.dumps(
        {
            "id": f"evt_bench_{os.getpid()}_{n}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": f"pi_{n}", "amount": 2000, "currency": "usd"}},
        }
    ).encode()
    now = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nStripe-Signature: t={now},v1={signature}\r\n\r\n"
    )
    return head.encode() + body


async def load(url: str, seconds: float, connections: int) -> dict[str, float]:
    """Closed-loop load: each connection sends a request, waits for its answer, repeats.
    ``url`` may name several servers, comma-separated: the connections take turns."""
    servers = [u.removeprefix("http://").rsplit(":", 1) for u in url.split(",")]
    counter = 0
    latencies: list[float] = []
    errors = 0

    async def receive(stream: trio.SocketStream) -> bytes:
        data = await stream.receive_some(65536)
        if not data:
            raise EOFError  # the server ended the connection (keep_alive_max_requests)
        return data

    async def connection(host: str, port: str) -> None:
        nonlocal counter, errors
        while True:
            stream = await trio.open_tcp_stream(host, int(port))
            buffered = b""
            try:
                while True:
                    counter += 1
                    began = time.perf_counter()
                    await stream.send_all(signed_request(counter, host))
                    while b"\r\n\r\n" not in buffered:
                        buffered += await receive(stream)
                    head, _, buffered = buffered.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(buffered) < length:
                        buffered += await receive(stream)
                    buffered = buffered[length:]
                    if not head.startswith(b"HTTP/1.1 200"):
                        errors += 1
                    latencies.append(time.perf_counter() - began)
            except (EOFError, trio.BrokenResourceError):
                continue  # a new connection; the unanswered request is not counted
            finally:
                await stream.aclose()

    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for n in range(connections):
                host, port = servers[n % len(servers)]
                nursery.start_soon(connection, host, port)
    latencies.sort()
    return {
        "rate": len(latencies) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def drive(url: str, seconds: float, connections: int) -> dict[str, float]:
    """Runs the load in its own process, so it does not share the server's core."""
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--drive",
            url,
            "--seconds",
            str(seconds),
            "--connections",
            str(connections),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def start_olactors(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    config = workdir / "olactors.toml"
    config.write_text(
        '[server]\npublic_bind = "127.0.0.1:0"\n[admin]\nbind = "127.0.0.1:0"\n'
        '[api]\nbind = "127.0.0.1:0"\n'
        f'[daemon]\nstate_dir = "{workdir}"\n'
        f'[store]\nsqlite_path = "{workdir / "bench.db"}"\n'
        '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["BENCH_WHSEC"]\n'
        '[log]\nlevel = "INFO"\n'
    )
    env = {**os.environ, "BENCH_WHSEC": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "olactors", "run", "--config", str(config)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The listener's address is in the admin snapshot later; for now read the log.
    assert process.stderr is not None
    for line in process.stderr:
        if "public listener on" in line:
            found = re.search(r'public listener on (http://[^\s"]+)', line)
            if found:
                return process, found.group(1)
    raise RuntimeError("olactors did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(trio.run(load, args.drive, args.seconds, args.connections)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        bare = subprocess.Popen([sys.executable, "-c", BARE], stdout=subprocess.PIPE, text=True)
        ours, ours_url = start_olactors(Path(tmp))
        try:
            assert bare.stdout is not None
            bare_url = bare.stdout.readline().strip()
            drive(bare_url, 1.0, args.connections)  # warm-ups, not counted
            drive(ours_url, 1.0, args.connections)
            runs: dict[str, list[dict[str, float]]] = {"bare": [], "ours": []}
            for _ in range(args.rounds):
                runs["bare"].append(drive(bare_url, args.seconds, args.connections))
                runs["ours"].append(drive(ours_url, args.seconds, args.connections))
        finally:
            for process in (bare, ours):
                process.terminate()
                process.wait(timeout=30)
    title = (
        f"webhook ingest, {args.connections} connections (verify + dedup + durable commit + 200)"
    )
    report(
        title, "req/s", [r["rate"] for r in runs["bare"]], [r["rate"] for r in runs["ours"]], 0.8
    )
    for side, results in runs.items():
        p50 = statistics.median(r["p50_ms"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        errors = sum(r["errors"] for r in results)
        print(
            f"  {side:5} latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, non-200 answers {errors:.0f}"
        )


if __name__ == "__main__":
    main()
