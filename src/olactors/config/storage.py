"""``[storage]``: where the app's files go, and where they go when that place is down."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from ._base import Section
from .providers import BreakerConfig

MiB = 1024 * 1024


class StorageProviderConfig(Section):
    """One object store: S3 or S3-compatible (R2, MinIO, AWS), or Supabase Storage.

    Credentials are never here: ``access_key_env`` / ``secret_key_env`` (S3) or
    ``service_key_env`` (Supabase) name the variables that hold them.
    """

    kind: Literal["s3", "supabase"]
    endpoint_url: str
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = "auto"
    access_key_env: str | None = None
    secret_key_env: str | None = None
    service_key_env: str | None = None
    #: Where the bucket's objects are public (a CDN, an R2 custom domain, a public
    #: Supabase bucket's <endpoint>/storage/v1/object/public/<bucket>):
    #: <public_base_url>/<key>. Unset: no public URL, presigned ones only.
    public_base_url: str | None = None
    #: Cloudflare image transformations on the public host (/cdn-cgi/image/...).
    image_transforms: bool = False
    rate_per_s: float = Field(default=50.0, gt=0)
    burst: int = Field(default=50, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=16, ge=1)
    breaker: BreakerConfig = BreakerConfig(minimum_calls=5, window_size=10, open_s=15.0)

    @model_validator(mode="after")
    def _credentials_for_its_kind(self) -> StorageProviderConfig:
        if urlsplit(self.endpoint_url).scheme not in ("http", "https"):
            raise ValueError("endpoint_url must be an http(s) URL")
        if self.kind == "s3" and not (self.access_key_env and self.secret_key_env):
            raise ValueError("an s3 provider needs access_key_env and secret_key_env")
        if self.kind == "supabase" and not self.service_key_env:
            raise ValueError("a supabase provider needs service_key_env")
        return self


class StorageConfig(Section):
    """Files: uploads go to ``primary``; while it fails, to ``fallback``, and back later."""

    primary: str | None = None
    fallback: str | None = None
    #: The largest upload taken (it is spooled to disk, never held in memory).
    max_upload_bytes: int = Field(default=5 * 1024 * MiB, ge=1)
    #: Files up to this go in one request; larger ones in parts of part_size
    #: (S3 needs parts of at least 5 MiB, at most 10,000 of them; R2 equal
    #: sizes but the last; Supabase's resumable uploads take 6 MiB chunks).
    #: Both are held in memory while they are sent (four parts at once): bounded.
    multipart_threshold_bytes: int = Field(default=16 * MiB, ge=5 * MiB, le=64 * MiB)
    part_size_bytes: int = Field(default=8 * MiB, ge=5 * MiB, le=64 * MiB)
    #: A presigned URL lives this long unless the request asks for less.
    presign_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    #: How long one migration back to the primary may take, and the waits between tries.
    migration_timeout_s: float = Field(default=600.0, gt=0)
    migration_retry_s: list[float] = Field(
        default_factory=lambda: [30.0, 60.0, 300.0, 900.0, 3600.0, 3600.0, 3600.0], min_length=1
    )
    providers: dict[str, StorageProviderConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_known(self) -> StorageConfig:
        for role in ("primary", "fallback"):
            name = getattr(self, role)
            if name is not None and name not in self.providers:
                raise ValueError(f"{role} names {name!r}, which is not a [storage.providers]")
        if self.fallback is not None and self.primary is None:
            raise ValueError("a fallback needs a primary")
        if self.fallback is not None and self.fallback == self.primary:
            raise ValueError("the fallback must be another provider than the primary")
        if self.max_upload_bytes > self.part_size_bytes * 10_000:
            raise ValueError(
                "max_upload_bytes needs more than S3's 10,000 parts of part_size_bytes: "
                "raise part_size_bytes"
            )
        return self
