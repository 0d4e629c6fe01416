"""A connected user's Instagram media as a sync source, with their token from the vault.

Graph API pages (``/me/media``, ``after`` cursors), each media as seen
when its run began (its ``timestamp`` is when it was posted, and a caption
edit does not change it); every run is full (the API has no changes
feed), so deletions can be found after a complete fetch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

from ..clients import NotFound, ProviderClient
from ._source import Page, SourceError, at_path
from ._tables import Item

FIELDS = "id,caption,media_type,media_url,permalink,thumbnail_url,timestamp,username"


class InstagramSource:
    incremental = False
    targeted = True

    def __init__(
        self, client: ProviderClient, token: Callable[[], Awaitable[str]], page_size: int
    ) -> None:
        self.client = client
        self.token = token
        self.page_size = page_size

    async def aclose(self) -> None:
        await self.client.aclose()

    async def page(self, cursor: str | None, since: float | None, started_at: float) -> Page:
        params: dict[str, Any] = {"fields": FIELDS, "limit": self.page_size}
        if cursor:
            params["after"] = cursor
        body = await self._get("/me/media", params)
        data = body.get("data")
        if not isinstance(data, list):
            raise SourceError("instagram: a media page without data")
        items = [self._item(media, started_at) for media in data]
        after = at_path(body, "paging.cursors.after")
        more = at_path(body, "paging.next") is not None and isinstance(after, str) and after
        return Page(items, after if more else None)

    async def fetch(self, ids: Sequence[str], started_at: float) -> list[Item]:
        found = []
        for rid in ids:
            try:
                media = await self._get(f"/{quote(rid, safe='')}", {"fields": FIELDS})
            except NotFound:
                found.append(Item(rid, {"id": rid}, updated_at=started_at, deleted=True))
                continue
            found.append(self._item(media, started_at))
        return found

    def _item(self, media: Any, started_at: float) -> Item:
        if not isinstance(media, dict) or not isinstance(media.get("id"), str):
            raise SourceError("instagram: a media without an id")
        # Its timestamp is when it was posted, not last edited: as of this run.
        return Item(media["id"], media, updated_at=started_at)

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        params = {**params, "access_token": await self.token()}
        response = await self.client.request(
            "GET", path, endpoint="sync.media", params=params, skip_cache=True
        )
        body = response.json()
        if not isinstance(body, dict):
            raise SourceError("instagram: the answer is not a JSON object")
        return body
