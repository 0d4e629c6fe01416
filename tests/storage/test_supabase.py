"""Supabase Storage through its REST API, against a local server that behaves like it:
one POST for small files, resumable 6 MiB chunks for large ones, its 409, signed URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from olactors.storage._calls import StoreHttp, http_client
from olactors.storage._objects import ObjectMissing, StorageUnavailable, UploadConflict
from olactors.storage._supabase import SupabaseStore, body_status

from .fake_supabase import SERVICE_KEY, FakeSupabase, Upload
from .support import MiB, guards, random_bytes, read_all, spooled


@pytest.fixture
async def store(supabase: FakeSupabase) -> AsyncIterator[SupabaseStore]:
    async with guards("supabase") as guard:
        calls = StoreHttp(
            "supabase", guard["supabase"], http_client(30.0, 3.0, 8), status_of=body_status
        )
        made = SupabaseStore(
            "supabase",
            calls,
            endpoint_url=supabase.url,
            bucket="uploads",
            service_key=SERVICE_KEY,
            public_base_url=None,
            multipart_threshold=8 * MiB,
        )
        try:
            yield made
        finally:
            await made.aclose()


async def test_a_small_file_goes_in_one_post(
    store: SupabaseStore, supabase: FakeSupabase, tmp_path: Path
) -> None:
    data = random_bytes(10_000)
    await store.put("a/b c.txt", await spooled(tmp_path, data), "text/plain")
    assert supabase.objects[("uploads", "a/b c.txt")] == (data, "text/plain")
    assert await read_all(store, "a/b c.txt") == data


async def test_a_large_file_goes_in_resumable_six_mib_chunks(
    store: SupabaseStore, supabase: FakeSupabase, tmp_path: Path
) -> None:
    data = random_bytes(13 * MiB)
    await store.put("big.bin", await spooled(tmp_path, data), "application/octet-stream")
    patches = [s for s in supabase.server.requests if s.method == "PATCH"]
    assert [len(p.body) for p in patches] == [6 * MiB, 6 * MiB, 1 * MiB]
    assert supabase.objects[("uploads", "big.bin")][0] == data


async def test_an_upload_while_another_to_the_same_path_goes_is_a_conflict(
    store: SupabaseStore, supabase: FakeSupabase, tmp_path: Path
) -> None:
    supabase.uploads["other"] = Upload("uploads", "same.txt", 100, "text/plain")
    with pytest.raises(UploadConflict):
        await store.put("same.txt", await spooled(tmp_path, b"mine"), "text/plain")


async def test_a_missing_object_is_missing_though_supabase_answers_400(
    store: SupabaseStore,
) -> None:
    with pytest.raises(ObjectMissing):
        await read_all(store, "nothing.txt")


async def test_a_signed_url_reads_the_object(store: SupabaseStore, tmp_path: Path) -> None:
    await store.put("s.txt", await spooled(tmp_path, b"signed"), "text/plain")
    async with httpx.AsyncClient() as client:
        answer = await client.get(await store.presign("s.txt", 60))
    assert (answer.status_code, answer.content) == (200, b"signed")


async def test_an_unreachable_project_is_unavailable(
    store: SupabaseStore, supabase: FakeSupabase, tmp_path: Path
) -> None:
    supabase.down = True
    with pytest.raises(StorageUnavailable):
        await store.put("x.txt", await spooled(tmp_path, b"x"), "text/plain")
