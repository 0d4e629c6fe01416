"""Which destinations a source's event goes to: routes by event type, ordered by a key if asked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

import msgspec

from .. import metrics
from ..delivery import queue_name
from ..store import DROPPED, UNROUTED, Delivery

log = logging.getLogger("olactors.webhooks")

Unrouted = Literal["drop", "keep"]


def namespace_of(source: str) -> str:
    """The engine namespace of a webhook source's events."""
    return f"webhooks.{source}"


@dataclass(frozen=True, slots=True)
class Route:
    """Events whose type matches one of ``patterns`` go to the destination ``name``.

    With ``order_key`` (a dotted path into the event's JSON, such as
    ``data.object.id``), events with the same value there are delivered one
    at a time, in arrival order; an event without that path goes unordered.
    """

    name: str
    patterns: Sequence[str]
    order_key: str | None = None

    def matches(self, event_type: str) -> bool:
        return any(fnmatchcase(event_type, pattern) for pattern in self.patterns)


class Router:
    """A source's routes: turns one event into its deliveries, and counts what matches none."""

    def __init__(self, source: str, routes: Sequence[Route], unrouted: Unrouted = "drop") -> None:
        self.source = source
        self.namespace = namespace_of(source)
        self.routes = list(routes)
        self.unrouted = unrouted
        self.empty_status = UNROUTED if unrouted == "keep" else DROPPED
        self._warned: set[str] = set()

    def deliveries(self, event_type: str, payload: bytes) -> list[Delivery]:
        matching = [route for route in self.routes if route.matches(event_type)]
        if not matching:
            self._count_unrouted(event_type)
            return []
        ordered = any(route.order_key for route in matching)
        document = _json(payload) if ordered else None
        return [
            Delivery(
                route.name,
                queue_name(self.namespace, route.name),
                _key(document, route.order_key) if route.order_key else "",
            )
            for route in matching
        ]

    def _count_unrouted(self, event_type: str) -> None:
        metrics.UNROUTED.labels(self.source).inc()
        if event_type not in self._warned and len(self._warned) < 1000:
            self._warned.add(event_type)
            log.warning(
                "%s: no route takes %s events (%s; logged once per type)",
                self.source,
                event_type,
                "kept as unrouted" if self.unrouted == "keep" else "dropped",
                extra={"source": self.source},
            )


def _json(payload: bytes) -> Any:
    try:
        return msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None


def _key(document: Any, path: str | None) -> str:
    """The value at ``path`` as text, or "" (unordered) when the event has none there."""
    value = document
    for part in (path or "").split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""
