"""Uploads through the daemon against a bare client, to the same moto S3 server, in one run.

A real ``olactors run`` process stores files on moto's S3 server (its primary,
kind "s3"); this script uploads 1 MB and 100 MB files through its app API
(``POST /v1/files``: streamed to a spool file, then a single PUT or parts of
8 MiB, four in flight). The baseline is a bare client (httpx, each request
signed by botocore's SigV4 signer) putting the same bytes in one request to
the same server. Rounds alternate the two; medians with min and max.

Then it uploads one 200 MB file through a fresh daemon and prints that
process's peak resident memory (VmHWM) against its resident memory before:
the upload never sits whole in its memory.

    python scripts/bench_storage.py [--rounds 3] [--big-mb 100] [--huge-mb 200]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchreport import report
from olactors.testing import MotoServer

ACCESS, SECRET = "AKIABENCH0000000", "bench-secret-0123456789"
API_KEY = "app-key-for-the-storage-bench-0123456789"
MB = 1_000_000


def signed(method: str, url: str, body: bytes = b"") -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body)
    S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def daemon(folder: Path, moto: str) -> tuple[subprocess.Popen[str], str]:
    config = folder / "olactors.toml"
    config.write_text(
        f"""
[daemon]
state_dir = "state"
[store]
sqlite_path = "o.db"
[server]
public_bind = "127.0.0.1:0"
[admin]
bind = "127.0.0.1:0"
[api]
bind = "127.0.0.1:0"
[log]
format = "text"
[storage]
primary = "s3"
[storage.providers.s3]
kind = "s3"
endpoint_url = "{moto}"
bucket = "bench"
access_key_env = "BENCH_ACCESS"
secret_key_env = "BENCH_SECRET"
rate_per_s = 10000.0
burst = 1000
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLACTORS_")}
    env |= {"OLACTORS_API_KEYS": API_KEY, "BENCH_ACCESS": ACCESS, "BENCH_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "olactors", "run", "--config", str(config)],
        env=env,
        cwd=folder,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"api listener on (http://[0-9.:]+)", line)
        if found:
            # Keep reading what it logs (a line per request), so its pipe never fills.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, found.group(1)
    raise RuntimeError("the daemon did not start")


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            yield block


def ours(api: str, path: Path, key: str) -> float:
    began = time.perf_counter()
    answer = httpx.post(
        f"{api}/v1/files",
        params={"key": key},
        content=chunks(path),
        headers={"authorization": f"Bearer {API_KEY}", "content-type": "application/octet-stream"},
        timeout=600,
    )
    seconds = time.perf_counter() - began
    assert answer.status_code == 201, answer.text
    return seconds


def bare(moto: str, path: Path, key: str) -> float:
    began = time.perf_counter()
    body = path.read_bytes()
    url = f"{moto}/bench/{key}"
    answer = httpx.put(url, content=body, headers=signed("PUT", url, body), timeout=600)
    seconds = time.perf_counter() - began
    assert answer.status_code == 200, answer.text
    return seconds


def memory_kb(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small-mb", type=float, default=1)
    parser.add_argument("--big-mb", type=float, default=100)
    parser.add_argument("--huge-mb", type=float, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name, MotoServer() as moto:
        folder = Path(name)
        bucket = f"{moto.url}/bench"
        httpx.put(bucket, headers=signed("PUT", bucket)).raise_for_status()
        process, api = daemon(folder, moto.url)
        try:
            for label, size in (("small", args.small_mb), ("big", args.big_mb)):
                path = folder / f"{label}.bin"
                path.write_bytes(os.urandom(int(size * MB)))
                bare_rates, our_rates = [], []
                for n in range(args.rounds):
                    bare_rates.append(size / bare(moto.url, path, f"bare/{label}/{n}"))
                    our_rates.append(size / ours(api, path, f"ours/{label}/{n}"))
                report(f"upload of {size:g} MB to moto's S3", "MB/s", bare_rates, our_rates, 0.7)
                path.unlink()
            # A fresh daemon: its peak is this upload's, not the rounds'.
            process.terminate()
            process.wait(timeout=60)
            process, api = daemon(folder, moto.url)
            before = memory_kb(process.pid, "VmRSS")
            path = folder / "huge.bin"
            path.write_bytes(os.urandom(int(args.huge_mb * MB)))
            ours(api, path, "ours/huge")
            peak = memory_kb(process.pid, "VmHWM")
            print(
                f"{args.huge_mb:g} MB upload: the daemon's peak resident memory "
                f"{peak / 1024:.0f} MB (resident before it: {before / 1024:.0f} MB; "
                f"the file: {args.huge_mb:g} MB)"
            )
        finally:
            process.terminate()
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
