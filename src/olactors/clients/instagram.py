"""Instagram Graph API: a user's media, page by page, with Meta's error codes classified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import msgspec

from ._client import ProviderClient
from ._errors import AuthFailure, ProviderError, RateLimitError, ServerError, error_for_status

#: Meta's throttling codes (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/):
#: sent with HTTP 400 or 403, so the status alone would call them client errors.
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
#: OAuthException 190: the access token expired or was revoked.
TOKEN_INVALID = 190
#: 1 and 2: an unknown or temporary error on Meta's side.
TEMPORARY_CODES = frozenset({1, 2})

DEFAULT_FIELDS = (
    "id,caption,media_type,media_url,permalink,timestamp,children{id,media_type,media_url}"
)


class _MetaError(msgspec.Struct):
    code: int | None = None


class _MetaBody(msgspec.Struct):
    error: _MetaError | None = None


def classify(status: int, body: bytes) -> type[ProviderError] | None:
    """Meta's error code first, then the HTTP status."""
    if status >= 400:
        try:
            code = msgspec.json.decode(body, type=_MetaBody).error
        except msgspec.DecodeError:
            code = None
        if code is not None and code.code is not None:
            if code.code == TOKEN_INVALID:
                return AuthFailure
            if code.code in THROTTLE_CODES:
                return RateLimitError
            if code.code in TEMPORARY_CODES:
                return ServerError
    return error_for_status(status)


class Media(msgspec.Struct, frozen=True):
    id: str
    media_type: str | None = None
    caption: str | None = None
    media_url: str | None = None
    permalink: str | None = None
    timestamp: str | None = None
    children: dict[str, list[dict[str, str]]] | None = None


class _Paging(msgspec.Struct, frozen=True):
    next: str | None = None


class _MediaPage(msgspec.Struct, frozen=True):
    data: list[Media]
    paging: _Paging | None = None


class InstagramClient:
    """Reads a user's media. Build the ProviderClient with ``classify=instagram.classify``."""

    def __init__(self, client: ProviderClient) -> None:
        self.http = client

    async def user_media(
        self, user_id: str, access_token: str, *, fields: str = DEFAULT_FIELDS, limit: int = 25
    ) -> AsyncIterator[Media]:
        """Every media item of ``user_id``, following ``paging.next`` page by page.

        A ``next`` link pointing anywhere but the configured Graph host is
        not followed: it carries the access token.
        """
        base = urlsplit(self.http.settings.base_url)
        params: dict[str, str | int] | None = {
            "fields": fields,
            "limit": limit,
            "access_token": access_token,
        }
        url = f"/{user_id}/media"  # under the base URL's version path
        while True:
            response = await self.http.request("GET", url, endpoint="user.media", params=params)
            page = msgspec.json.decode(response.body, type=_MediaPage)
            for media in page.data:
                yield media
            following = page.paging.next if page.paging else None
            if not following:
                return
            link = urlsplit(following)
            if (link.scheme, link.netloc) != (base.scheme, base.netloc):
                raise ProviderError(
                    self.http.provider, f"refusing to follow paging to {link.netloc}"
                )
            url, params = following, None
