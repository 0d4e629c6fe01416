"""moto's S3 server (a real S3 API on loopback) on a free port, that a test can stop and
start again (its objects do not outlive a stop: it keeps them in memory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from ._redis_server import free_port


class MotoServer:
    """``moto_server`` from this Python's environment (``moto[server]``, a test extra)."""

    def __init__(self) -> None:
        self.binary = str(Path(sys.executable).parent / "moto_server")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it; another port if this one turns out to be taken."""
        for _ in range(5):
            if self._started():
                return
            self.port = free_port()
        raise RuntimeError("moto_server did not come up on any of five ports")

    def _started(self) -> bool:
        self.process = subprocess.Popen(  # noqa: S603 -- our own arguments, no shell
            [self.binary, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False  # it could not listen there
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=0.5)
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            return True
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None
