"""Cloudflare image transformation URLs: ``<host>/cdn-cgi/image/<options>/<source>``.

Options are checked against what Cloudflare documents, so a URL the app is
given is one Cloudflare will serve: width and height 1 to 12,000 pixels,
quality 1 to 100, format auto | avif | webp | jpeg | png | json, fit
scale-down | contain | cover | crop | pad.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

Fit = Literal["scale-down", "contain", "cover", "crop", "pad"]
Format = Literal["auto", "avif", "webp", "jpeg", "png", "json"]


class ImageOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    width: Annotated[int, msgspec.Meta(ge=1, le=12000)] | None = None
    height: Annotated[int, msgspec.Meta(ge=1, le=12000)] | None = None
    quality: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    format: Format | None = None
    fit: Fit | None = None

    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__struct_fields__)


def transform_url(public_url: str, options: ImageOptions) -> str:
    """The transformation URL of an image served at ``public_url`` (on a Cloudflare zone)."""
    parts = urlsplit(public_url)
    chosen = ",".join(
        f"{name}={getattr(options, name)}"
        for name in options.__struct_fields__
        if getattr(options, name) is not None
    )
    return f"{parts.scheme}://{parts.netloc}/cdn-cgi/image/{chosen}{parts.path}"
