"""What a sync reads from: pages of external records, and single records on demand."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from ._tables import Item


class Page(msgspec.Struct, frozen=True):
    items: list[Item]
    #: Where the next page starts; None: this was the last one.
    next_cursor: str | None


class SourceError(Exception):
    """The source's answer cannot be read as records (a missing id, a page not a list)."""


class Source(Protocol):
    #: Whether a run can ask for only what changed since a time (else every run is full).
    incremental: bool
    #: Whether single records can be fetched (else a webhook's refresh is a whole run).
    targeted: bool

    async def page(self, cursor: str | None, since: float | None, started_at: float) -> Page:
        """One page: from ``cursor`` (None: the first), everything (``since`` None) or only
        what changed since then. ``started_at`` is when the run began: an item with no
        updated-at of its own was seen then."""
        ...

    async def fetch(self, ids: Sequence[str], started_at: float) -> list[Item]:
        """These records as the source has them now (gone ones as deleted items)."""
        ...

    async def aclose(self) -> None: ...


def at_path(document: Any, path: str) -> Any:
    """The value at a dotted path, or None where the document has nothing."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


def timestamp(value: Any) -> float | None:
    """Unix seconds from a number or an ISO 8601 text (Meta's ``+0000`` offsets too)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = _COMPACT_OFFSET.sub(r"\1:\2", value.strip())
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.timestamp()
    return None
