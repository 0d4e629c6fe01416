"""Supabase Storage through its REST API, with the project's service key.

A file up to the multipart threshold goes in one POST; a larger one by
Supabase's resumable (TUS) uploads, in chunks of 6 MiB, each sent from the
spool when its turn comes; a chunk that fails is resumed from the offset the
server says it has. Supabase answers some errors with HTTP 400 and the real
status in its body (``{"statusCode": "409", "error": "Duplicate"}``): that
one is what counts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
import trio

from ._calls import ATTEMPTS, StoreHttp, body_of, sent_once
from ._objects import StorageError, StorageRefused, StorageUnavailable
from ._spool import Spool

#: Supabase's resumable uploads take chunks of exactly this size (the last shorter).
TUS_CHUNK = 6 * 1024 * 1024


def body_status(status: int, body: bytes) -> int:
    """The status Supabase means: its body's ``statusCode`` where it puts one."""
    if status != 400:
        return status
    try:
        said = json.loads(body).get("statusCode")
    except (ValueError, AttributeError):
        return status
    return int(said) if isinstance(said, str) and said.isdigit() else status


class SupabaseStore:
    def __init__(
        self,
        name: str,
        calls: StoreHttp,
        *,
        endpoint_url: str,
        bucket: str,
        service_key: str,
        public_base_url: str | None,
        multipart_threshold: int,
    ) -> None:
        self.name = name
        self.calls = calls
        self.api = endpoint_url.rstrip("/") + "/storage/v1"
        self.bucket = bucket
        self._key = service_key
        self.public_base = public_base_url.rstrip("/") if public_base_url else None
        self.threshold = multipart_threshold

    def __repr__(self) -> str:
        return f"<SupabaseStore {self.name}>"

    async def aclose(self) -> None:
        await self.calls.http.aclose()

    def _headers(self, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}", "apikey": self._key, **more}

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{quote(key, safe='/-_.~')}"

    async def put(self, key: str, spool: Spool, content_type: str) -> None:
        if spool.size <= self.threshold:
            headers = self._headers(**{"Content-Type": content_type, "x-upsert": "true"})
            url = f"{self.api}/object/{self._path(key)}"

            async def once() -> None:
                content, length = sent_once(await spool.read(0, spool.size))
                request = httpx.Request("POST", url, content=content, headers={**headers, **length})
                await self.calls.send(request)

            await self.calls.retried(once)
            return
        await self._resumable(key, spool, content_type)

    async def _resumable(self, key: str, spool: Spool, content_type: str) -> None:
        metadata = ",".join(
            f"{name} {base64.b64encode(value.encode()).decode()}"
            for name, value in (
                ("bucketName", self.bucket),
                ("objectName", key),
                ("contentType", content_type),
            )
        )
        created = await self.calls.send(
            httpx.Request(
                "POST",
                f"{self.api}/upload/resumable",
                headers=self._headers(
                    **{
                        "Tus-Resumable": "1.0.0",
                        "Upload-Length": str(spool.size),
                        "Upload-Metadata": metadata,
                        "x-upsert": "true",
                    }
                ),
            )
        )
        location = created.headers.get("location")
        if not location:
            raise StorageRefused(self.name, "the resumable upload has no location")
        upload = httpx.URL(self.api).join(location)
        try:
            await self._send_chunks(upload, spool)
        except BaseException:
            # An unfinished resumable upload holds its path: let it go, if the
            # store answers (if not, Supabase drops it in a day).
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self._terminate(upload)
            raise

    async def _terminate(self, upload: httpx.URL) -> None:
        try:
            terminate = httpx.Request(
                "DELETE", upload, headers=self._headers(**{"Tus-Resumable": "1.0.0"})
            )
            await self.calls.send(terminate, cleanup=True)
        except StorageError:
            return

    async def _send_chunks(self, upload: httpx.URL, spool: Spool) -> None:
        offset, failures = 0, 0
        while offset < spool.size:
            try:
                moved = await self._patch(upload, offset, await spool.read(offset, TUS_CHUNK))
            except StorageUnavailable:
                failures += 1
                if failures >= ATTEMPTS:
                    raise
                await trio.sleep(0.2 * 2**failures)
                # The chunk may have landed before the answer was lost: go on from
                # where the server says it is, not where we were.
                offset = await self._offset(upload)
                continue
            if moved <= offset:
                raise StorageRefused(self.name, "the resumable upload did not move on")
            offset = moved

    async def _patch(self, upload: httpx.URL, offset: int, chunk: bytes) -> int:
        size = len(chunk)
        content, length = sent_once(chunk)
        del chunk
        headers = self._headers(
            **{
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                **length,
            }
        )
        answer = await self.calls.send(
            httpx.Request("PATCH", upload, content=content, headers=headers)
        )
        return int(answer.headers.get("upload-offset", offset + size))

    async def _offset(self, upload: httpx.URL) -> int:
        answer = await self.calls.send(
            httpx.Request("HEAD", upload, headers=self._headers(**{"Tus-Resumable": "1.0.0"}))
        )
        return int(answer.headers.get("upload-offset", "0"))

    @asynccontextmanager
    async def get(self, key: str) -> AsyncIterator[AsyncIterator[bytes]]:
        url = f"{self.api}/object/authenticated/{self._path(key)}"
        reply = await self.calls.send(
            httpx.Request("GET", url, headers=self._headers()), stream=True
        )
        try:
            yield body_of(self.name, reply)
        finally:
            await reply.aclose()

    async def delete(self, key: str) -> None:
        url = f"{self.api}/object/{self._path(key)}"

        async def once() -> None:
            await self.calls.send(httpx.Request("DELETE", url, headers=self._headers()))

        await self.calls.retried(once)

    async def presign(self, key: str, expires_s: int) -> str:
        answer = await self.calls.send(
            httpx.Request(
                "POST",
                f"{self.api}/object/sign/{self._path(key)}",
                json={"expiresIn": expires_s},
                headers=self._headers(),
            )
        )
        signed = answer.json().get("signedURL")
        if not isinstance(signed, str):
            raise StorageRefused(self.name, "no signedURL in the answer")
        return f"{self.api}{signed}" if signed.startswith("/") else signed

    async def probe(self) -> None:
        url = f"{self.api}/bucket/{self.bucket}"
        await self.calls.send(httpx.Request("GET", url, headers=self._headers()))

    def public_url(self, key: str) -> str | None:
        """Only where public_base_url says the bucket is public (a public bucket's is
        <endpoint>/storage/v1/object/public/<bucket>): a private one has presigned URLs."""
        if self.public_base is None:
            return None
        return f"{self.public_base}/{quote(key, safe='/-_.~')}"
