"""Object stores for the storage tests: moto's S3 server, and the resilience actors the
daemon's store clients go through."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from olactors.config import Config
from olactors.resilience import BreakerSettings, ProviderGuard, RateLimit, resilience_spec
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.storage._calls import StoreHttp, http_client
from olactors.storage._objects import ObjectStore
from olactors.storage._s3 import S3Store
from olactors.storage._spool import Spool, spool
from olactors.tree import build_tree

from .fake_supabase import SERVICE_KEY

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


API_KEY = "app-key-for-storage-tests-0123456789"


ADMIN_TOKEN = "admin-token-for-storage-tests-0123456789"


@dataclass
class Daemon:
    system: ActorSystem
    api_url: str
    admin_url: str

    async def upload(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as client:
            return await client.post(
                "/v1/files",
                params={"key": key},
                content=data,
                headers={
                    "authorization": f"Bearer {API_KEY}",
                    "content-type": content_type,
                    **(headers or {}),
                },
            )

    async def call(self, method: str, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as client:
            return await client.request(
                method, path, headers={"authorization": f"Bearer {API_KEY}"}
            )


@asynccontextmanager
async def storage_daemon(
    tmp_path: Path, supabase_url: str, moto_url: str, **storage: Any
) -> AsyncIterator[Daemon]:
    """Supabase Storage first, Cloudflare R2 (moto's S3) when it fails, as the seed had it."""
    fast_breaker = {"open_s": 0.2, "max_open_s": 0.5, "minimum_calls": 2, "window_size": 4}
    config = Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0"},
            "storage": {
                "primary": "supabase",
                "fallback": "r2",
                "multipart_threshold_bytes": 5 * MiB,
                "part_size_bytes": 5 * MiB,
                "migration_retry_s": [0.2] * 30,
                "providers": {
                    "supabase": {
                        "kind": "supabase",
                        "endpoint_url": supabase_url,
                        "bucket": "uploads",
                        "service_key_env": "SUPABASE_SERVICE_KEY",
                        "timeout_s": 5.0,
                        "breaker": fast_breaker,
                    },
                    "r2": {
                        "kind": "s3",
                        "endpoint_url": moto_url,
                        "bucket": "uploads",
                        "access_key_env": "R2_ACCESS_KEY_ID",
                        "secret_key_env": "R2_SECRET_ACCESS_KEY",
                        "public_base_url": "https://files.example.com",
                        "image_transforms": True,
                        "breaker": fast_breaker,
                    },
                },
                **storage,
            },
        }
    )
    env = {
        "OLACTORS_API_KEYS": API_KEY,
        "OLACTORS_SUBSCRIBER_KEY": "subscriber-key-0123456789abcdef0123456789",
        "SUPABASE_SERVICE_KEY": SERVICE_KEY,
        "R2_ACCESS_KEY_ID": ACCESS,
        "R2_SECRET_ACCESS_KEY": SECRET,
        "OLACTORS_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    system = ActorSystem(build_tree(config, env))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        api = system.actor_snapshot("/root/http/api").state["addresses"][0]
        admin = system.actor_snapshot("/root/http/admin").state["addresses"][0]
        yield Daemon(system, api, admin)
        system.shutdown()


def in_s3(url: str, bucket: str, key: str) -> bool:
    """Whether ``key`` is in moto's bucket (a signed HEAD)."""
    target = f"{url}/{bucket}/{key}"
    request = AWSRequest(method="HEAD", url=target)
    S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    answer = httpx.head(target, headers=dict(request.headers.items()))
    assert answer.status_code in (200, 404), answer.status_code
    return answer.status_code == 200
