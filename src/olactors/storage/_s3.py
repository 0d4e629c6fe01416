"""S3 and the stores that speak its API (Cloudflare R2, MinIO, AWS), path-style, each
request signed by botocore's SigV4 signer and sent by our own httpx client.

A file up to the multipart threshold goes in one PUT; a larger one in parts of
``part_size`` (all equal but the last, as R2 wants; at least 5 MiB, at most
10,000), a few in flight at once, each read from the spool when it is sent.
A multipart upload that fails is aborted, so no part is left to bill for.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
import trio
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ._calls import StoreHttp, body_of, first_storage_error, sent_once
from ._objects import StorageRefused
from ._spool import Spool

#: S3's limit on the parts of one upload.
MAX_PARTS = 10_000
#: Parts being sent at once (each one part_size in memory).
PARTS_IN_FLIGHT = 4
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Store:
    def __init__(
        self,
        name: str,
        calls: StoreHttp,
        *,
        endpoint_url: str,
        bucket: str,
        region: str,
        access_key: str,
        secret_key: str,
        public_base_url: str | None,
        multipart_threshold: int,
        part_size: int,
    ) -> None:
        self.name = name
        self.calls = calls
        self.base = endpoint_url.rstrip("/")
        self.bucket = bucket
        # R2 takes "auto"; SigV4 needs a region all the same.
        self.region = "us-east-1" if region == "auto" else region
        self.credentials = Credentials(access_key, secret_key)
        self.public_base = public_base_url.rstrip("/") if public_base_url else None
        self.threshold = multipart_threshold
        self.part_size = part_size

    def __repr__(self) -> str:
        return f"<S3Store {self.name}>"

    async def aclose(self) -> None:
        await self.calls.http.aclose()

    def _url(self, key: str, query: str = "") -> str:
        url = f"{self.base}/{self.bucket}/{quote(key, safe='/-_.~')}"
        return f"{url}?{query}" if query else url

    def _signed(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Request:
        request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
        S3SigV4Auth(self.credentials, "s3", self.region).add_auth(request)
        signed = dict(request.headers.items())
        if not body:
            return httpx.Request(method, url, headers=signed)
        content, length = sent_once(body)
        return httpx.Request(method, url, content=content, headers={**signed, **length})

    async def put(self, key: str, spool: Spool, content_type: str) -> None:
        if spool.size <= self.threshold:
            headers = {"Content-Type": content_type}

            async def once() -> None:
                body = await spool.read(0, spool.size)  # read again by each attempt
                await self.calls.send(self._signed("PUT", self._url(key), body, headers))

            await self.calls.retried(once)
            return
        await self._multipart(key, spool, content_type)

    async def _multipart(self, key: str, spool: Spool, content_type: str) -> None:
        parts = -(-spool.size // self.part_size)
        if parts > MAX_PARTS:
            raise StorageRefused(self.name, f"{parts} parts of {self.part_size} bytes: too many")
        started = await self.calls.send(
            self._signed("POST", self._url(key, "uploads="), b"", {"Content-Type": content_type})
        )
        upload = _text(started.content, "UploadId")
        etags: dict[int, str] = {}
        try:
            limiter = trio.CapacityLimiter(PARTS_IN_FLIGHT)
            try:
                async with trio.open_nursery() as nursery:
                    for number in range(1, parts + 1):
                        await limiter.acquire_on_behalf_of(number)
                        nursery.start_soon(self._part, key, upload, number, spool, etags, limiter)
            except BaseExceptionGroup as group:
                raise first_storage_error(group) from None
            listed = "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>"
                for n in range(1, parts + 1)
            )
            body = f"<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>".encode()
            done = await self.calls.send(
                self._signed("POST", self._url(key, f"uploadId={quote(upload)}"), body)
            )
            self._completed(done)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._abort(key, upload)
            raise

    def _completed(self, answer: httpx.Response) -> None:
        # S3 may answer 200 to a completion and fail it in the body.
        if b"<Error>" in answer.content:
            raise StorageRefused(self.name, "the upload could not be completed")

    async def _part(
        self,
        key: str,
        upload: str,
        number: int,
        spool: Spool,
        etags: dict[int, str],
        limiter: trio.CapacityLimiter,
    ) -> None:
        try:
            url = self._url(key, f"partNumber={number}&uploadId={quote(upload)}")

            async def once() -> str:
                # The part is read by each attempt, and only its ETag comes back:
                # nothing that outlives the attempt holds its bytes.
                body = await spool.read((number - 1) * self.part_size, self.part_size)
                answer = await self.calls.send(self._signed("PUT", url, body))
                return str(answer.headers.get("etag", ""))

            etags[number] = await self.calls.retried(once)
        finally:
            limiter.release_on_behalf_of(number)

    async def _abort(self, key: str, upload: str) -> None:
        try:
            await self.calls.send(
                self._signed("DELETE", self._url(key, f"uploadId={quote(upload)}")), cleanup=True
            )
        except Exception:  # best effort: a lifecycle rule cleans what is left
            return

    @asynccontextmanager
    async def get(self, key: str) -> AsyncIterator[AsyncIterator[bytes]]:
        reply = await self.calls.send(self._signed("GET", self._url(key)), stream=True)
        try:
            yield body_of(self.name, reply)
        finally:
            await reply.aclose()

    async def delete(self, key: str) -> None:
        async def once() -> None:
            await self.calls.send(self._signed("DELETE", self._url(key)))

        await self.calls.retried(once)

    async def presign(self, key: str, expires_s: int) -> str:
        request = AWSRequest(method="GET", url=self._url(key))
        S3SigV4QueryAuth(self.credentials, "s3", self.region, expires=expires_s).add_auth(request)
        return str(request.url)

    async def probe(self) -> None:
        await self.calls.send(self._signed("GET", f"{self.base}/{self.bucket}?max-keys=1"))

    def public_url(self, key: str) -> str | None:
        if self.public_base is None:
            return None
        return f"{self.public_base}/{quote(key, safe='/-_.~')}"


def _text(document: bytes, tag: str) -> str:
    root = ET.fromstring(document)  # noqa: S314 -- the store's own answer, entities unexpanded
    found = root.find(f"{_NS}{tag}")
    if found is None:
        found = root.find(tag)
    if found is None or not found.text:
        raise StorageRefused("s3", f"no {tag} in the answer")
    return found.text


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
