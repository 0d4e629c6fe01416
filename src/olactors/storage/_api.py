"""``/v1/files``: the app uploads a file (streamed, never whole in memory), asks where it
lives and how to reach it, and deletes it everywhere."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import msgspec
from quart import Request

from ..api import (
    ApiError,
    ApiPart,
    Conflict,
    NotFound,
    Operations,
    PayloadTooLarge,
    RequestTimeout,
    Unavailable,
    ValidationFailed,
)
from ..http import BodyIdle, gated_chunks
from ..runtime import ActorContext
from ..store import Store
from ..times import iso_utc
from ._cdn import Fit, Format, ImageOptions, transform_url
from ._files import FileRecord
from ._objects import StorageRefused, StorageUnavailable, UploadConflict
from ._service import FileService, NoSuchFile
from ._spool import TooLarge
from ._uploads import BadKey, ChecksumMismatch, KeyTaken, check_key

T = TypeVar("T")
FileId = Annotated[str, msgspec.Meta(pattern=r"^file_[0-9a-f]{24}$")]
META_PREFIX = "olactors-meta-"
SHA256_HEX = re.compile(r"^[0-9A-Fa-f]{64}$")
#: An upload whose next bytes take longer than this to come is given up (408).
BODY_IDLE_S = 60.0
CHECKSUM_HEADER = "olactors-checksum-sha256"


class UploadQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Where the file goes in the bucket: "avatars/42.png".
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class ViewQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: How long the presigned URL lives (default [storage] presign_s).
    expires_in: Annotated[int, msgspec.Meta(ge=1, le=7 * 24 * 3600)] | None = None
    #: Image transformation options: with any of them, a CDN transform URL.
    width: Annotated[int, msgspec.Meta(ge=1, le=12000)] | None = None
    height: Annotated[int, msgspec.Meta(ge=1, le=12000)] | None = None
    quality: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    format: Format | None = None
    fit: Fit | None = None


class Uploaded(msgspec.Struct, frozen=True):
    id: str
    key: str
    provider: str
    url: str
    size: int
    sha256: str
    #: "none": it is on the primary; "pending": on the fallback, on its way home.
    migration: str


class Urls(msgspec.Struct, frozen=True):
    public: str | None
    presigned: str
    presigned_expires_at: str
    transform: str | None


class MigrationView(msgspec.Struct, frozen=True):
    state: str
    attempts: int
    error: str | None
    migrated_at: str | None


class FileView(msgspec.Struct, frozen=True):
    id: str
    key: str
    provider: str
    size: int
    sha256: str
    content_type: str
    metadata: dict[str, str]
    created_at: str
    urls: Urls
    migration: MigrationView


class Deleted(msgspec.Struct, frozen=True):
    id: str
    deleted: bool


class KeyIsTaken(Conflict):
    type = "key_taken"


class ChecksumFailed(ValidationFailed):
    type = "checksum_mismatch"


class StoreRefused(ApiError):
    status, type = 502, "storage_refused"


class StoresUnavailable(Unavailable):
    type = "storage_unavailable"


def storage_part(service: Callable[[ActorContext, Store], FileService]) -> ApiPart:
    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        files = service(context, store)

        @operations.add(
            "POST",
            "/v1/files",
            summary="Upload a file (the raw body, its Content-Type) to key; the fallback "
            "takes it while the primary fails",
            query=UploadQuery,
            response=Uploaded,
            status=201,
            tag="files",
            errors=(409, 413, 502),
            stream_limit=files.max_bytes,
            headers={"Olactors-Checksum-Sha256": str},
        )
        async def upload_file(request: Request, query: UploadQuery) -> Uploaded:
            try:
                key = check_key(query.key)
            except BadKey as exc:
                raise ValidationFailed(str(exc)) from None
            checksum = request.headers.get(CHECKSUM_HEADER)
            if checksum is not None and not SHA256_HEX.match(checksum):
                raise ValidationFailed(f"{CHECKSUM_HEADER} is a SHA-256 in 64 hex digits")
            metadata = {
                name.lower().removeprefix(META_PREFIX): value
                for name, value in request.headers.items()
                if name.lower().startswith(META_PREFIX)
            }
            kind = request.headers.get("content-type") or "application/octet-stream"
            record = await answered(
                files.uploader.upload(
                    gated_chunks(request.body, request.scope, idle_s=BODY_IDLE_S),
                    key,
                    kind,
                    metadata,
                    checksum,
                )
            )
            return Uploaded(
                record.id,
                record.key,
                record.provider,
                await answered(files.url(record)),
                record.size,
                record.sha256,
                record.migration,
            )

        @operations.add(
            "GET",
            "/v1/files/<id:file_id>",
            summary="Where a file lives, its URLs (public, presigned, CDN transform) and "
            "its migration",
            query=ViewQuery,
            response=FileView,
            tag="files",
            errors=(404,),
            params={"file_id": FileId},
        )
        async def get_file(body: None, query: ViewQuery, file_id: str) -> FileView:
            record = await answered(files.get(file_id))
            options = ImageOptions(
                query.width, query.height, query.quality, query.format, query.fit
            )
            return await answered(view(files, record, query.expires_in, options))

        @operations.add(
            "DELETE",
            "/v1/files/<id:file_id>",
            summary="Delete a file from every store it is in",
            response=Deleted,
            tag="files",
            errors=(404,),
            params={"file_id": FileId},
        )
        async def delete_file(body: None, query: None, file_id: str) -> Deleted:
            await answered(files.delete(file_id))
            return Deleted(file_id, True)

    return part


async def view(
    files: FileService, record: FileRecord, expires_in: int | None, options: ImageOptions
) -> FileView:
    lasting = expires_in or files.presign_s
    public = files.public_url(record)
    transform = None
    if not options.empty():
        if public is None or not files.transforms(record):
            raise ValidationFailed("image transformations need a public URL on a Cloudflare zone")
        transform = transform_url(public, options)
    return FileView(
        record.id,
        record.key,
        record.provider,
        record.size,
        record.sha256,
        record.content_type,
        record.metadata,
        iso_utc(record.created_at),
        Urls(
            public,
            await files.presign(record, lasting),
            iso_utc(files.clock() + lasting),
            transform,
        ),
        MigrationView(
            record.migration,
            record.migration_attempts,
            record.migration_error,
            None if record.migrated_at is None else iso_utc(record.migrated_at),
        ),
    )


async def answered(work: Awaitable[T]) -> T:
    """``work``'s answer, its failures as the app API's errors."""
    try:
        return await work
    except NoSuchFile as exc:
        raise NotFound(f"no file {exc}") from None
    except KeyTaken as exc:
        raise KeyIsTaken(
            f"a file is already at {exc}: delete it first, or pick another key"
        ) from None
    except UploadConflict as exc:
        raise Conflict(f"another upload to this key is going: {exc}") from None
    except ChecksumMismatch as exc:
        raise ChecksumFailed(str(exc)) from None
    except TooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except BodyIdle as exc:
        raise RequestTimeout(str(exc)) from None
    except StorageUnavailable as exc:
        raise StoresUnavailable(f"no store took it now: {exc}") from None
    except StorageRefused as exc:
        raise StoreRefused(f"the store refused it: {exc}") from None
