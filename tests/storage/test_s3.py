"""S3 through botocore's signer on our client, against moto's S3 server: small files in
one PUT, large ones in parts, presigned reads, deletes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from olactors.storage._objects import ObjectMissing
from olactors.storage._s3 import S3Store
from olactors.testing import MotoServer

from .support import MiB, guards, random_bytes, read_all, s3_store, spooled


@pytest.fixture
async def store(moto: MotoServer) -> AsyncIterator[S3Store]:
    async with guards("r2") as guard:
        made = s3_store("r2", moto.url, guard["r2"])
        try:
            yield made
        finally:
            await made.aclose()


async def test_a_small_file_goes_in_one_put_and_reads_back(store: S3Store, tmp_path: Path) -> None:
    data = random_bytes(300_000)
    await store.put("avatars/42 é.png", await spooled(tmp_path, data), "image/png")
    assert await read_all(store, "avatars/42 é.png") == data


async def test_a_large_file_goes_in_equal_parts(store: S3Store, tmp_path: Path) -> None:
    data = random_bytes(12 * MiB + 123)  # three parts of 5 MiB, the last shorter
    await store.put("videos/v.mp4", await spooled(tmp_path, data), "video/mp4")
    assert await read_all(store, "videos/v.mp4") == data
    async with httpx.AsyncClient() as client:
        answer = await client.get(await store.presign("videos/v.mp4", 60))
    assert answer.headers["etag"].strip('"').endswith("-3")  # S3's multipart ETag


async def test_a_presigned_url_reads_without_credentials(store: S3Store, tmp_path: Path) -> None:
    data = random_bytes(1000)
    await store.put("docs/a.pdf", await spooled(tmp_path, data), "application/pdf")
    async with httpx.AsyncClient() as client:
        answer = await client.get(await store.presign("docs/a.pdf", 60))
        unsigned = await client.get(store._url("docs/a.pdf"))
    assert (answer.status_code, answer.content) == (200, data)
    assert unsigned.status_code == 403


async def test_a_deleted_object_is_gone(store: S3Store, tmp_path: Path) -> None:
    await store.put("tmp/x", await spooled(tmp_path, b"x"), "text/plain")
    await store.delete("tmp/x")
    with pytest.raises(ObjectMissing):
        await read_all(store, "tmp/x")
