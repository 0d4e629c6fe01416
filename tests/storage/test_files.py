"""/v1/files in the daemon: Supabase Storage first, R2 (moto's S3) while it fails, and
each file on the fallback brought home by a durable migration once the primary is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from olactors.cli import main
from olactors.storage._files import Files
from olactors.store import STORE_PATH, Store
from olactors.testing import MotoServer

from .fake_supabase import FakeSupabase
from .support import (
    ADMIN_TOKEN,
    API_KEY,
    Daemon,
    MiB,
    in_s3,
    random_bytes,
    sha256,
    storage_daemon,
)


@pytest.fixture
async def daemon(tmp_path: Path, supabase: FakeSupabase, moto: MotoServer) -> AsyncIterator[Daemon]:
    async with storage_daemon(tmp_path, supabase.url, moto.url) as running:
        yield running


async def test_an_upload_lands_on_the_primary_and_is_described(
    daemon: Daemon, supabase: FakeSupabase
) -> None:
    data = random_bytes(200_000)
    answer = await daemon.upload(
        "avatars/42.png", data, content_type="image/png", headers={"olactors-meta-owner": "42"}
    )
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["provider"], made["size"], made["sha256"], made["migration"]) == (
        "supabase",
        len(data),
        sha256(data),
        "none",
    )
    assert supabase.objects[("uploads", "avatars/42.png")] == (data, "image/png")
    shown = (await daemon.call("GET", f"/v1/files/{made['id']}")).json()
    assert (shown["content_type"], shown["metadata"]) == ("image/png", {"owner": "42"})
    async with httpx.AsyncClient() as client:
        read = await client.get(shown["urls"]["presigned"])
    assert read.content == data


async def test_a_large_upload_goes_to_the_primary_in_resumable_chunks(
    daemon: Daemon, supabase: FakeSupabase
) -> None:
    data = random_bytes(13 * MiB)
    answer = await daemon.upload("videos/v.mp4", data)
    assert answer.json()["provider"] == "supabase"
    assert len([s for s in supabase.server.requests if s.method == "PATCH"]) == 3
    assert supabase.objects[("uploads", "videos/v.mp4")][0] == data


async def wait_for(daemon: Daemon, file_id: str, state: str) -> dict[str, Any]:
    with trio.fail_after(30):
        while True:
            shown = (await daemon.call("GET", f"/v1/files/{file_id}")).json()
            if shown["migration"]["state"] == state:
                return dict(shown)
            await trio.sleep(0.05)


async def test_while_the_primary_is_down_an_upload_goes_to_the_fallback_and_home_later(
    daemon: Daemon, supabase: FakeSupabase, moto: MotoServer
) -> None:
    supabase.down = True
    data = random_bytes(6 * MiB + 17)  # in parts on R2, in resumable chunks at home
    answer = await daemon.upload("reports/q3.pdf", data)
    made = answer.json()
    assert (answer.status_code, made["provider"], made["migration"]) == (201, "r2", "pending")
    assert in_s3(moto.url, "uploads", "reports/q3.pdf")
    assert made["url"] == "https://files.example.com/reports/q3.pdf"
    supabase.down = False
    shown = await wait_for(daemon, made["id"], "done")
    assert shown["provider"] == "supabase"
    assert supabase.objects[("uploads", "reports/q3.pdf")][0] == data
    with trio.fail_after(10):  # the fallback's copy goes once the record says home
        while in_s3(moto.url, "uploads", "reports/q3.pdf"):
            await trio.sleep(0.05)


async def test_a_body_that_is_not_its_checksum_is_refused_and_frees_its_key(
    daemon: Daemon, supabase: FakeSupabase
) -> None:
    wrong = await daemon.upload("a.txt", b"hello", headers={"olactors-checksum-sha256": "0" * 64})
    assert (wrong.status_code, wrong.json()["error"]["type"]) == (422, "checksum_mismatch")
    assert supabase.objects == {}
    right = await daemon.upload(
        "a.txt", b"hello", headers={"olactors-checksum-sha256": sha256(b"hello")}
    )
    assert right.status_code == 201


async def test_a_key_already_taken_is_a_conflict(daemon: Daemon) -> None:
    assert (await daemon.upload("k.txt", b"one")).status_code == 201
    again = await daemon.upload("k.txt", b"two")
    assert (again.status_code, again.json()["error"]["type"]) == (409, "key_taken")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "bad\x01key", "trailing/"])
async def test_a_key_a_store_cannot_take_as_is_is_refused(daemon: Daemon, key: str) -> None:
    answer = await daemon.upload(key, b"x")
    assert (answer.status_code, answer.json()["error"]["type"]) == (422, "validation_error")


async def test_a_deleted_file_is_gone_from_its_store_and_its_record(
    daemon: Daemon, supabase: FakeSupabase
) -> None:
    made = (await daemon.upload("gone.txt", b"bye")).json()
    deleted = await daemon.call("DELETE", f"/v1/files/{made['id']}")
    assert deleted.json() == {"id": made["id"], "deleted": True}
    assert supabase.objects == {}
    assert (await daemon.call("GET", f"/v1/files/{made['id']}")).status_code == 404
    assert (await daemon.upload("gone.txt", b"again")).status_code == 201  # the key is free


async def test_an_image_on_a_cloudflare_zone_gets_a_transform_url(
    daemon: Daemon, supabase: FakeSupabase
) -> None:
    supabase.down = True  # so it lands on R2, whose public host is on Cloudflare
    made = (await daemon.upload("img/cat.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")).json()
    shown = await daemon.call("GET", f"/v1/files/{made['id']}?width=320&format=webp&fit=cover")
    assert shown.json()["urls"]["transform"] == (
        "https://files.example.com/cdn-cgi/image/width=320,format=webp,fit=cover/img/cat.jpg"
    )
    bad = await daemon.call("GET", f"/v1/files/{made['id']}?width=0")
    assert (bad.status_code, bad.json()["error"]["type"]) == (400, "invalid_request")


async def test_with_every_store_down_the_upload_is_a_503(
    daemon: Daemon, supabase: FakeSupabase, moto: MotoServer
) -> None:
    supabase.down = True
    moto.stop()
    answer = await daemon.upload("nowhere.txt", b"x")
    assert (answer.status_code, answer.json()["error"]["type"]) == (503, "storage_unavailable")


async def test_the_cli_lists_files_waiting_to_go_home_and_retries_one(
    daemon: Daemon,
    supabase: FakeSupabase,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    supabase.down = True
    made = (await daemon.upload("later.txt", b"soon home")).json()
    monkeypatch.setenv("OLACTORS_ADMIN_TOKEN", ADMIN_TOKEN)
    config = tmp_path / "cli.toml"
    config.write_text(f'[daemon]\nstate_dir = "{tmp_path / "cli"}"\n')

    async def olactors(*args: str) -> int:
        argv = [*args, "--config", str(config), "--admin", daemon.admin_url]
        return await trio.to_thread.run_sync(main, argv)

    assert await olactors("storage", "migrations") == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:3] == ["FILE", "KEY", "ON"]
    assert listed[1].split()[:3] == [made["id"], "later.txt", "r2"]
    assert await olactors("storage", "retry", made["id"]) == 0  # still down: still waiting
    assert capsys.readouterr().out.strip() == f"{made['id']} queued"
    supabase.down = False
    await wait_for(daemon, made["id"], "done")
    assert await olactors("storage", "migrations") == 0
    assert capsys.readouterr().out.strip() == "no file waits for a migration"


async def test_a_primary_that_goes_down_in_the_middle_of_an_upload_leaves_it_to_the_fallback(
    daemon: Daemon, supabase: FakeSupabase, moto: MotoServer
) -> None:
    supabase.down_after_chunks = 1  # the first 6 MiB land, then the project is gone
    data = random_bytes(13 * MiB)
    answer = await daemon.upload("halfway.bin", data)
    made = answer.json()
    assert (answer.status_code, made["provider"], made["sha256"]) == (201, "r2", sha256(data))
    assert in_s3(moto.url, "uploads", "halfway.bin")
    supabase.down = False
    await wait_for(daemon, made["id"], "done")
    assert supabase.objects[("uploads", "halfway.bin")][0] == data


async def test_a_checksum_that_is_not_sha256_hex_is_refused_before_the_body(
    daemon: Daemon,
) -> None:
    answer = await daemon.upload("c.txt", b"x", headers={"olactors-checksum-sha256": "z" * 64})
    assert (answer.status_code, answer.json()["error"]["type"]) == (422, "validation_error")


async def test_an_upload_past_the_limit_is_a_413_and_leaves_no_spool_file(
    tmp_path: Path, supabase: FakeSupabase, moto: MotoServer
) -> None:
    async with storage_daemon(tmp_path, supabase.url, moto.url, max_upload_bytes=1000) as small:
        declared = await small.upload("big.bin", b"x" * 5000)

        async def undeclared() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"x" * 1000

        async with httpx.AsyncClient(base_url=small.api_url, timeout=30) as client:
            chunked = await client.post(
                "/v1/files",
                params={"key": "big2.bin"},
                content=undeclared(),
                headers={"authorization": f"Bearer {API_KEY}"},
            )
    assert declared.status_code == 413
    assert (chunked.status_code, chunked.json()["error"]["type"]) == (413, "payload_too_large")
    assert supabase.objects == {}
    assert list((tmp_path / "state" / "uploads").glob("upload-*")) == []


async def test_a_delete_waits_for_a_migration_of_its_file_and_says_so(
    daemon: Daemon, supabase: FakeSupabase
) -> None:
    supabase.down = True
    made = (await daemon.upload("busy.txt", b"moving")).json()
    files = Files(Store.at(daemon.system, STORE_PATH))
    async with files.held(made["id"], ttl_s=30, wait_s=5):  # as a migration would
        refused = await daemon.call("DELETE", f"/v1/files/{made['id']}")
    assert (refused.status_code, refused.json()["error"]["type"]) == (503, "unavailable")
    assert (await daemon.call("GET", f"/v1/files/{made['id']}")).status_code == 200
