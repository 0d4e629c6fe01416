"""Soak: good webhooks beside a crowd of slow clients, against the same load without them.

Starts olactors (``olactors run``, sqlite with fsync per commit, a Stripe
source) in its own process. Each round measures good load (``--connections``
keep-alive connections of validly signed events, closed loop) twice, for
``--seconds`` each: once alone (the baseline) and once while another process
holds ``--slow`` slow connections open, half dribbling their headers a byte
at a time, half a declared 1 MiB body a byte at a time; whenever the server
cuts one at its header or body deadline, it opens another. It prints good
requests/s of both and the ratio, p50/p99 latency, non-200 answers, how many
slow connections the deadlines cut, and the server's resident memory.

    python scripts/soak_slow_clients.py [--slow 1000] [--seconds 10] [--connections 4]
        [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from bench_e2e import start
from bench_ingest import drive
from benchreport import report

#: How often a slow client sends its next byte.
DRIP_S = 1.0


async def hold_slow(url: str, slow: int, seconds: float) -> dict[str, int]:
    """Keep ``slow`` slow connections open for ``seconds``; count the ones the server cut."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    cut = refused = 0

    async def one(index: int) -> None:
        nonlocal cut, refused
        with_body = index % 2 == 1
        while True:
            try:
                stream = await trio.open_tcp_stream(host, int(port))
            except OSError:
                refused += 1
                await trio.sleep(DRIP_S)
                continue
            try:
                if with_body:
                    await stream.send_all(
                        b"POST /webhooks/stripe HTTP/1.1\r\nHost: soak\r\n"
                        b"Stripe-Signature: t=%d,v1=00\r\nContent-Length: 1048576\r\n\r\n"
                        % int(time.time())
                    )
                    drip = b"x"
                else:
                    drip = b"X-Slow: y\r\n"
                    await stream.send_all(b"POST /webhooks/stripe HTTP/1.1\r\n")
                while True:
                    with trio.move_on_after(DRIP_S):
                        if not await stream.receive_some(65536):
                            break  # the server closed it (a deadline, or an answer)
                    await stream.send_all(drip)
                cut += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                cut += 1  # reset by the server
            finally:
                await trio.aclose_forcefully(stream)

    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for index in range(slow):
                nursery.start_soon(one, index)
                if index % 100 == 99:
                    await trio.sleep(0.05)  # do not flood the accept queue at once
    return {"cut": cut, "refused": refused}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hold", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        url, slow, seconds = args.hold
        print(json.dumps(trio.run(hold_slow, url, int(slow), float(seconds))))
        return

    ramp_s = 1.0 + args.slow / 1000
    with tempfile.TemporaryDirectory() as tmp:
        # The cap sits above the crowd: this measures the deadlines at work,
        # not the 503s past max_connections (the tests cover those).
        daemon = start(Path(tmp), "soak", "", server=f"max_connections = {args.slow + 100}\n")
        server, url = daemon.process, daemon.public
        try:
            drive(url, 1.0, args.connections)  # warm-up, not counted
            alone, crowded, cuts, memory = [], [], [], []
            for _ in range(args.rounds):
                alone.append(drive(url, args.seconds, args.connections))
                crowd = subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--hold",
                        url,
                        str(args.slow),
                        str(args.seconds + 2 * ramp_s),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                time.sleep(ramp_s)
                crowded.append(drive(url, args.seconds, args.connections))
                memory.append(rss_mb(server.pid))
                out, _ = crowd.communicate(timeout=args.seconds + 60)
                cuts.append(json.loads(out)["cut"])
        finally:
            daemon.stop()
    labels = ("alone", f"beside {args.slow} slow")
    title = f"good webhooks, {args.connections} connections, beside {args.slow} slow clients"
    report(title, "req/s", [r["rate"] for r in alone], [r["rate"] for r in crowded], 0.5, labels)
    for label, results in zip(labels, (alone, crowded), strict=True):
        p50 = statistics.median(r["p50_ms"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        errors = sum(r["errors"] for r in results)
        print(f"  {label}: latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, non-200 {errors:.0f}")
    print(
        f"  slow connections cut by the deadlines per round: {statistics.median(cuts):.0f};"
        f" server memory beside them: {max(memory):.0f} MB"
    )


if __name__ == "__main__":
    main()
