"""Object stores for the storage tests: moto's S3 server, and the resilience actors the
daemon's store clients go through."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.storage._calls import StoreHttp, http_client
from olactors.storage._objects import ObjectStore
from olactors.storage._s3 import S3Store
from olactors.storage._spool import Spool, spool

ACCESS, SECRET = "AKIAEXAMPLE0000", "secret-example-0123456789"
MiB = 1024 * 1024
BREAKER = BreakerSettings(window_size=4, minimum_calls=2, open_s=30, half_open_calls=1)


def make_bucket(url: str, bucket: str) -> None:
    request = AWSRequest(method="PUT", url=f"{url}/{bucket}", data=b"")
    S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    answer = httpx.put(f"{url}/{bucket}", headers=dict(request.headers.items()))
    assert answer.status_code == 200, answer.text


def s3_store(
    name: str, url: str, guard: ProviderGuard, *, threshold: int = 8 * MiB, part: int = 5 * MiB
) -> S3Store:
    return S3Store(
        name,
        StoreHttp(name, guard, http_client(30.0, 3.0, 8)),
        endpoint_url=url,
        bucket="uploads",
        region="auto",
        access_key=ACCESS,
        secret_key=SECRET,
        public_base_url="https://cdn.example.com",
        multipart_threshold=threshold,
        part_size=part,
    )


@asynccontextmanager
async def guards(*names: str) -> AsyncIterator[dict[str, ProviderGuard]]:
    limits = {name: (RateLimit(rate_per_s=1000, burst=100), BREAKER) for name in names}
    system = ActorSystem(SupervisorSpec("root", children=[resilience_spec(limits)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        yield {name: ProviderGuard.at(system, "/root/resilience", name) for name in names}
        system.shutdown()


async def spooled(tmp_path: Path, data: bytes) -> Spool:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    return await spool(chunks(), tmp_path / "spool", len(data) + 1)


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def read_all(store: ObjectStore, key: str) -> bytes:
    async with store.get(key) as chunks:
        return b"".join([chunk async for chunk in chunks])
