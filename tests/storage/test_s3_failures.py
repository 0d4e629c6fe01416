"""An S3 multipart upload whose part fails: one StorageError for the caller (the uploader
turns to the fallback on it), and the upload aborted at the store."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
import trio

from olactors.storage._objects import StorageUnavailable
from olactors.testing import Canned, FakeProvider, Seen

from .support import MiB, guards, random_bytes, s3_store, spooled

CREATED = (
    b'<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult '
    b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>uploads</Bucket>'
    b"<Key>v.mp4</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>"
)


def s3_that_fails_parts(request: Seen) -> Canned:
    query = parse_qs(request.query, keep_blank_values=True)
    if request.method == "POST" and "uploads" in query:
        return Canned(200, body=CREATED)
    if request.method == "PUT" and "partNumber" in query:
        return Canned(503, body=b"<Error><Code>SlowDown</Code></Error>")
    return Canned(204)  # the abort


async def test_a_part_that_keeps_failing_is_one_storage_error_and_the_upload_is_aborted(
    tmp_path: Path,
) -> None:
    server = FakeProvider(s3_that_fails_parts)
    async with trio.open_nursery() as nursery, guards("r2") as guard:
        await nursery.start(server.serve)
        store = s3_store("r2", server.url, guard["r2"], threshold=5 * MiB)
        try:
            with pytest.raises(StorageUnavailable):  # not an exception group
                await store.put(
                    "v.mp4", await spooled(tmp_path, random_bytes(11 * MiB)), "video/mp4"
                )
        finally:
            await store.aclose()
        nursery.cancel_scope.cancel()
    assert [s.method for s in server.requests if "uploadId=up-1" in s.query][-1] == "DELETE"
