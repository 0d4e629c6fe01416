"""Any paged JSON API as a sync source, described in config: no code per API.

Each page is a GET of ``url`` under its provider's base URL, with
``cursor_param`` set to the last page's next cursor (none on the first);
its records are the list at ``items_path``, each one's id at ``id_path`` and
updated-at at ``updated_at_path``; the next cursor is at ``next_cursor_path``
(missing, null or empty: the last page). With ``since_param``, runs after
the first ask only for what changed since the last one's newest updated-at.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from ..clients import ProviderClient
from ..config.sync import SyncEntry
from ._source import Page, SourceError, at_path, timestamp
from ._tables import Item


class HttpSource:
    targeted = False

    def __init__(self, client: ProviderClient, entry: SyncEntry, token: str | None) -> None:
        assert entry.url is not None  # the section checks it
        self.client = client
        self.entry = entry
        self.url = entry.url
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.incremental = entry.since_param is not None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def page(self, cursor: str | None, since: float | None, started_at: float) -> Page:
        entry = self.entry
        params: dict[str, Any] = {}
        if cursor:
            params[entry.cursor_param] = cursor
        if entry.limit_param:
            params[entry.limit_param] = entry.page_size
        if since is not None and entry.since_param:
            params[entry.since_param] = _iso(since)
        response = await self.client.request(
            "GET",
            self.url,
            endpoint="sync.http",
            params=params,
            headers=self.headers,
            skip_cache=True,
        )
        body = response.json()
        found = at_path(body, entry.items_path)
        if not isinstance(found, list):
            raise SourceError(f"{self.url}: nothing is a list at {entry.items_path}")
        items = [self._item(record, started_at) for record in found]
        following = at_path(body, entry.next_cursor_path) if entry.next_cursor_path else None
        next_cursor = str(following) if following not in (None, "", False) else None
        if next_cursor is not None and next_cursor == cursor:
            raise SourceError(f"{self.url}: the next cursor is the one just asked for")
        return Page(items, next_cursor)

    def _item(self, record: Any, started_at: float) -> Item:
        if not isinstance(record, dict):
            raise SourceError(f"{self.url}: a record is not a JSON object")
        rid = at_path(record, self.entry.id_path)
        if rid is None or isinstance(rid, dict | list) or rid == "":
            raise SourceError(f"{self.url}: a record has no id at {self.entry.id_path}")
        updated = (
            timestamp(at_path(record, self.entry.updated_at_path))
            if self.entry.updated_at_path
            else None
        )
        return Item(str(rid), record, updated_at=updated if updated is not None else started_at)

    async def fetch(self, ids: Sequence[str], started_at: float) -> list[Item]:
        raise SourceError("a generic HTTP source fetches whole pages, not single records")


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat()
