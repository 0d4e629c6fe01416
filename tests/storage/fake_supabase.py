"""A local server that behaves like Supabase Storage: object uploads, resumable (TUS)
uploads in 6 MiB chunks, its 409 while another upload to the same path is going, its
error bodies (HTTP 400 with the real status inside), signed URLs, and an outage switch."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from olactors.testing import Canned, FakeProvider, Seen

SERVICE_KEY = "supabase-service-key-0123456789abcdef"


def _error(status: str, error: str, message: str) -> Canned:
    return Canned(400, json={"statusCode": status, "error": error, "message": message})


@dataclass
class Upload:
    bucket: str
    name: str
    length: int
    content_type: str
    data: bytearray = field(default_factory=bytearray)
    touched: float = field(default_factory=time.monotonic)


@dataclass
class FakeSupabase:
    objects: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    signed: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: True: every connection is reset, as if the project were unreachable.
    down: bool = False
    #: Go down after this many resumable chunks (an outage in the middle of an upload).
    down_after_chunks: int | None = None
    #: A resumable upload nobody touched for this long is dropped (Supabase's last a day).
    abandoned_s: float = 1.0
    server: FakeProvider = field(init=False)

    def __post_init__(self) -> None:
        self.server = FakeProvider(self._handle)

    @property
    def url(self) -> str:
        return self.server.url

    def _handle(self, request: Seen) -> Canned:
        if self.down:
            return Canned(reset=True)
        path = request.path.removeprefix("/storage/v1")
        if path.startswith("/object/sign/") and request.method == "GET":
            return self._signed_get(path, request)
        if request.headers.get("authorization") != f"Bearer {SERVICE_KEY}":
            return _error("403", "Unauthorized", "invalid signature")
        if path == "/upload/resumable" and request.method == "POST":
            return self._tus_create(request)
        if path.startswith("/upload/resumable/"):
            return self._tus(path.removeprefix("/upload/resumable/"), request)
        if path.startswith("/bucket/") and request.method == "GET":
            name = path.removeprefix("/bucket/")
            return Canned(200, json={"id": name, "name": name, "public": False})
        if path.startswith("/object/sign/") and request.method == "POST":
            return self._sign(path.removeprefix("/object/sign/"), request)
        if path.startswith("/object/authenticated/") and request.method == "GET":
            return self._get(path.removeprefix("/object/authenticated/"))
        if path.startswith("/object/") and request.method == "POST":
            return self._upload(path.removeprefix("/object/"), request)
        if path.startswith("/object/") and request.method == "DELETE":
            return self._delete(path.removeprefix("/object/"))
        return Canned(404, json={"statusCode": "404", "error": "not_found", "message": path})

    @staticmethod
    def _where(rest: str) -> tuple[str, str]:
        bucket, _, name = rest.partition("/")
        return bucket, unquote(name)

    def _busy(self, where: tuple[str, str]) -> bool:
        now = time.monotonic()
        for upload_id, upload in list(self.uploads.items()):
            if now - upload.touched > self.abandoned_s:
                del self.uploads[upload_id]
        return any((u.bucket, u.name) == where for u in self.uploads.values())

    def _upload(self, rest: str, request: Seen) -> Canned:
        where = self._where(rest)
        if self._busy(where):
            return _error("409", "Duplicate", "another upload to this object is in progress")
        if where in self.objects and request.headers.get("x-upsert") != "true":
            return _error("409", "Duplicate", "The resource already exists")
        self.objects[where] = (request.body, request.headers.get("content-type", ""))
        return Canned(200, json={"Key": f"{where[0]}/{where[1]}", "Id": secrets.token_hex(8)})

    def _tus_create(self, request: Seen) -> Canned:
        meta = dict(
            (name, base64.b64decode(value).decode())
            for name, _, value in (
                part.partition(" ") for part in request.headers["upload-metadata"].split(",")
            )
        )
        where = (meta["bucketName"], meta["objectName"])
        if self._busy(where):
            return Canned(409, body=b"upload already in progress")
        upload_id = secrets.token_hex(8)
        self.uploads[upload_id] = Upload(
            where[0], where[1], int(request.headers["upload-length"]), meta.get("contentType", "")
        )
        location = f"/storage/v1/upload/resumable/{upload_id}"
        return Canned(201, headers={"Location": location, "Tus-Resumable": "1.0.0"})

    def _tus(self, upload_id: str, request: Seen) -> Canned:
        upload = self.uploads.get(upload_id)
        if upload is None:
            return Canned(404, body=b"no such upload")
        if request.method == "DELETE":  # TUS termination
            del self.uploads[upload_id]
            return Canned(204, headers={"Tus-Resumable": "1.0.0"})
        if request.method == "HEAD":
            return Canned(
                200,
                headers={
                    "Upload-Offset": str(len(upload.data)),
                    "Upload-Length": str(upload.length),
                },
            )
        if int(request.headers["upload-offset"]) != len(upload.data):
            return Canned(409, body=b"offset mismatch")
        if len(request.body) > 6 * 1024 * 1024:
            return Canned(413, body=b"chunk too large")
        if self.down_after_chunks is not None:
            if self.down_after_chunks == 0:
                self.down, self.down_after_chunks = True, None  # once
                return Canned(reset=True)
            self.down_after_chunks -= 1
        upload.data += request.body
        upload.touched = time.monotonic()
        if len(upload.data) >= upload.length:
            self.objects[(upload.bucket, upload.name)] = (bytes(upload.data), upload.content_type)
            del self.uploads[upload_id]
        return Canned(
            204, headers={"Upload-Offset": str(len(upload.data)), "Tus-Resumable": "1.0.0"}
        )

    def _get(self, rest: str) -> Canned:
        found = self.objects.get(self._where(rest))
        if found is None:
            return _error("404", "not_found", "Object not found")
        return Canned(200, body=found[0], headers={"Content-Type": found[1]})

    def _delete(self, rest: str) -> Canned:
        if self.objects.pop(self._where(rest), None) is None:
            return _error("404", "not_found", "Object not found")
        return Canned(200, json={"message": "Successfully deleted"})

    def _sign(self, rest: str, request: Seen) -> Canned:
        where = self._where(rest)
        if where not in self.objects:
            return _error("404", "not_found", "Object not found")
        token = secrets.token_urlsafe(16)
        self.signed[token] = where
        assert json.loads(request.body)["expiresIn"] > 0
        return Canned(200, json={"signedURL": f"/object/sign/{rest}?token={token}"})

    def _signed_get(self, path: str, request: Seen) -> Canned:
        token = dict(parse_qsl(request.query)).get("token", "")
        where = self.signed.get(token)
        if where is None or where not in self.objects:
            return _error("400", "InvalidJWT", "invalid token")
        return Canned(200, body=self.objects[where][0])
