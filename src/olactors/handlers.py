"""Handlers that ship with olactors, for routes with ``handler = "olactors.handlers:<name>"``."""

from __future__ import annotations

import logging

from .store import QueueItem

log = logging.getLogger("olactors.handlers")


async def log_event(item: QueueItem) -> None:
    """Logs each event's source, type and id (never its payload, which may hold personal
    data): a route that shows events flowing before any app is there to take them."""
    log.info(
        "event %s %s from %s (attempt %d)",
        item.meta.get("type", "?"),
        item.id,
        item.source,
        item.attempt,
        extra={"event_id": item.id},
    )
