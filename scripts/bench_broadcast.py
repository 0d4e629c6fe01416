"""Websocket fan-out: olactors' hub against a bare trio-websocket broadcast loop, in one run.

Three processes: a server (``--serve bare|ours``), a crowd of subscribers
(``--crowd``), and this one, which starts them in turn. Each round, for each
subscriber count, the crowd connects and subscribes every client to one
topic, then the server publishes ``--messages`` messages as fast as it can
(each carrying its send time). The crowd reports how many arrived, over how
long (from the first message's publishing to the last copy's arrival), and
each copy's delivery latency. Printed: delivered copies/s (every copy to
every client counts) of both and the ratio (goal >= 0.7), and the p99
latency of each.

The bare loop is what a hand-written trio-websocket server does: a bounded
queue and a sender task per connection, the publisher putting each message
on every queue. Ours is the daemon's tree (``build_tree``) serving ``/ws``,
with the subscriber token, and the hub actor publishing.

    python scripts/bench_broadcast.py [--subscribers 1000 5000] [--messages 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
import trio.lowlevel
from trio_websocket import (
    ConnectionClosed,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)

from benchreport import report

TOPIC = "bench"
TOKEN_KEY = "bench-subscriber-key-0123456789abcdef0123"


# -- the server ---------------------------------------------------------------------


async def serve_bare(messages: int) -> None:
    queues: list[trio.MemorySendChannel[str]] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        send, receive = trio.open_memory_channel[str](256)
        queues.append(send)
        await ws.get_message()  # the subscribe frame
        await ws.send_message(json.dumps({"type": "subscribed", "topic": TOPIC}))
        try:
            async for frame in receive:
                await ws.send_message(frame)
        except ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
        port = server.port
        print(json.dumps({"url": f"ws://127.0.0.1:{port}/"}), flush=True)

        async def publish(n: int) -> None:
            frame = json.dumps({"type": "message", "topic": TOPIC, "data": {"t": time.time()}})
            for queue in list(queues):
                try:
                    queue.send_nowait(frame)
                except trio.WouldBlock:
                    queues.remove(queue)  # too slow: dropped, as the hub drops it

        await _publish_on_command(publish, messages)
        nursery.cancel_scope.cancel()


async def serve_ours(messages: int, home: Path) -> None:
    from olactors.broadcast import WEBSOCKET_HUB, Publish
    from olactors.config import Config
    from olactors.runtime import ActorSystem
    from olactors.tree import build_tree

    config = Config.model_validate(
        {
            "daemon": {"state_dir": str(home / "state")},
            "store": {"sqlite_path": str(home / "bench.db")},
            "server": {"public_bind": "127.0.0.1:0", "max_connections": 20_000},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "log": {"level": "WARNING"},
        }
    )
    env = {
        "OLACTORS_SUBSCRIBER_KEY": TOKEN_KEY,
        "OLACTORS_API_KEYS": "bench-api-key-0123456789abcdef",
        "OLACTORS_ADMIN_TOKEN": "bench-admin-token-0123456789abcdef",
    }
    system = ActorSystem(build_tree(config, env))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        public = system.actor_snapshot("/root/http/public").state["addresses"][0]
        print(json.dumps({"url": public.replace("http://", "ws://") + "/ws"}), flush=True)
        hub = system.actor_ref(WEBSOCKET_HUB)

        async def publish(n: int) -> None:
            # Handed over without waiting for the hub's answer, as the bare
            # loop puts a message on its queues without waiting for senders.
            await hub.tell(Publish(TOPIC, {"t": time.time()}))

        await _publish_on_command(publish, messages)
        system.shutdown()


async def _publish_on_command(publish: Any, messages: int) -> None:
    """Each line on stdin ("go") starts a burst of ``messages``; "stop" ends the server."""
    stdin = trio.lowlevel.FdStream(0)
    buffered = b""
    while True:
        while b"\n" not in buffered:
            chunk = await stdin.receive_some()
            if not chunk:
                return
            buffered += chunk
        line, buffered = buffered.split(b"\n", 1)
        if line.strip() == b"stop":
            return
        for n in range(messages):
            await publish(n)
            await trio.lowlevel.checkpoint()  # let the senders run, as a live server would
        print(json.dumps({"published": messages}), flush=True)


# -- the crowd ------------------------------------------------------------------------


async def crowd(url: str, subscribers: int, messages: int, token: str | None) -> None:
    latencies: list[float] = []
    arrived = 0
    first: float | None = None
    last = 0.0
    ready = trio.Event()
    connected = 0
    done = trio.Event()
    finished = 0
    # Clients arrive a hundred at a time, not all in one millisecond (which
    # only measures the listen backlog's overflow and SYN retries).
    arriving = trio.Semaphore(100)

    async def client() -> None:
        nonlocal arrived, first, last, connected, finished
        await arriving.acquire()
        arrival_over = False
        try:
            async with open_websocket_url(url, message_queue_size=64) as ws:
                if token is not None:
                    await ws.send_message(json.dumps({"type": "connect", "token": token}))
                    await ws.get_message()
                await ws.send_message(json.dumps({"type": "subscribe", "topic": TOPIC}))
                while json.loads(await ws.get_message())["type"] != "subscribed":
                    pass
                arriving.release()
                arrival_over = True
                connected += 1
                if connected == subscribers:
                    ready.set()
                got = 0
                while got < messages:
                    frame = json.loads(await ws.get_message())
                    if frame["type"] != "message":
                        continue
                    now = time.time()
                    sent = frame["data"]["t"]
                    # From the first message's publishing to the last copy's arrival.
                    first = sent if first is None else min(first, sent)
                    last = max(last, now)
                    latencies.append(now - frame["data"]["t"])
                    arrived += 1
                    got += 1
                finished += 1
                if finished == subscribers:
                    done.set()
                await done.wait()
        finally:
            if not arrival_over:
                arriving.release()

    async with trio.open_nursery() as nursery:
        for _ in range(subscribers):
            nursery.start_soon(client)
            await trio.lowlevel.checkpoint()
        await ready.wait()
        print(json.dumps({"ready": subscribers}), flush=True)
        with trio.move_on_after(120):
            await done.wait()
        nursery.cancel_scope.cancel()
    span = (last - first) if first is not None else 0.0
    latencies.sort()
    print(
        json.dumps(
            {
                "arrived": arrived,
                "span_s": span,
                "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
                "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
            }
        ),
        flush=True,
    )


# -- the run --------------------------------------------------------------------------


def measure(mode: str, subscribers: int, messages: int, home: Path) -> dict[str, Any]:
    here = Path(__file__).parent
    server = subprocess.Popen(
        [
            sys.executable,
            str(here / "bench_broadcast.py"),
            "--serve",
            mode,
            "--messages",
            str(messages),
            "--home",
            str(home),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        url = json.loads(server.stdout.readline())["url"]
        token = None
        if mode == "ours":
            from olactors.broadcast import SubscriberTokens

            token = SubscriberTokens(TOKEN_KEY.encode(), time.time).mint("b", [TOPIC], 3600)[0]
        command = [
            sys.executable,
            str(here / "bench_broadcast.py"),
            "--crowd",
            url,
            "--subscribers",
            str(subscribers),
            "--messages",
            str(messages),
        ]
        crowd_process = subprocess.Popen(
            [*command, *(["--token", token] if token else [])], stdout=subprocess.PIPE, text=True
        )
        assert crowd_process.stdout is not None
        assert "ready" in json.loads(crowd_process.stdout.readline())
        server.stdin.write("go\n")
        server.stdin.flush()
        result: dict[str, Any] = json.loads(crowd_process.stdout.readline())
        crowd_process.wait(timeout=60)
        return result
    finally:
        if server.poll() is None:
            server.stdin.write("stop\n")
            server.stdin.flush()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", choices=["bare", "ours"])
    parser.add_argument("--crowd", metavar="URL")
    parser.add_argument("--token")
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    # Thousands of connections: as many descriptors as the hard limit allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.serve == "bare":
        trio.run(serve_bare, args.messages)
        return
    if args.serve == "ours":
        trio.run(serve_ours, args.messages, args.home)
        return
    if args.crowd:
        trio.run(crowd, args.crowd, args.subscribers[0], args.messages, args.token)
        return
    for subscribers in args.subscribers:
        rates: dict[str, list[float]] = {"bare": [], "ours": []}
        p99: dict[str, list[float]] = {"bare": [], "ours": []}
        for _ in range(args.rounds):
            for mode in ("bare", "ours"):
                with tempfile.TemporaryDirectory() as home:
                    result = measure(mode, subscribers, args.messages, Path(home))
                expected = subscribers * args.messages
                if result["arrived"] != expected:
                    print(f"  {mode}: {result['arrived']} of {expected} copies arrived")
                rates[mode].append(result["arrived"] / max(result["span_s"], 1e-6))
                p99[mode].append(result["p99_ms"] or 0.0)
        title = f"fan-out to {subscribers:,} websocket subscribers, {args.messages} messages"
        report(title, "copies/s", rates["bare"], rates["ours"], 0.7)
        print(
            f"  delivery p99: bare {statistics.median(p99['bare']):.1f} ms, "
            f"ours {statistics.median(p99['ours']):.1f} ms"
        )


if __name__ == "__main__":
    main()
