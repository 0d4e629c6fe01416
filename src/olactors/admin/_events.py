"""The event log on the admin listener: list events, read one with its attempts, retry it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from quart import Response, request
from quart_trio import QuartTrio

from ..delivery import queue_name, wake_courier
from ..runtime import ActorContext
from ..store import DEAD, PENDING, EventRecord, Store
from ..webhooks import Router, namespace_of
from ._answers import as_text, from_store
from ._answers import error_answer as _error
from ._answers import json_answer as _json


def register_events(
    app: QuartTrio, context: ActorContext, store: Store, routers: Mapping[str, Router]
) -> None:
    """``GET /events``, ``GET /events/<source>/<id>``, ``POST /events/<source>/<id>/retry``.

    ``routers`` are the sources' routes as configured now: an event that went
    to no route is sent to those that take it today.
    """

    @app.get("/events")
    async def events() -> Response:
        args = request.args
        source = args.get("source", "")
        if not source:
            return _error(400, "say which webhook source: ?source=<name>")
        try:
            limit = int(args.get("limit", "50"))
            cursor = int(args["cursor"]) if "cursor" in args else None
        except ValueError as exc:
            return _error(400, str(exc))

        async def page() -> Response:
            listed = await store.events(
                namespace_of(source),
                limit=limit,
                cursor=cursor,
                status=args.get("status", ""),
                event_type=args.get("type", ""),
                destination=args.get("route", ""),
            )
            return _json({"items": listed.items, "next_cursor": listed.next_cursor})

        return await from_store(page(), missing=f"no events from {source}")

    # Ids may hold a slash (SendGrid's are base64): the id takes the rest of the path.
    @app.get("/events/<source>/<path:event_id>")
    async def event(source: str, event_id: str) -> Response:
        async def shown() -> Response:
            record = await store.event(namespace_of(source), event_id)
            data: dict[str, Any] = msgspec.to_builtins(record)
            data["payload"], data["payload_encoding"] = as_text(record.payload)
            for attempt_shown, attempt in zip(data["attempts"], record.attempts, strict=True):
                attempt_shown["response"], attempt_shown["response_encoding"] = as_text(
                    attempt.response
                )
            return _json(data)

        return await from_store(
            shown(), missing=f"no event {event_id} from {source} (or no longer kept)"
        )

    @app.post("/events/<source>/<path:event_id>/retry")
    async def retry(source: str, event_id: str) -> Response:
        """Every destination still owed the event tries now: a pending one ahead of its
        schedule, a dead one replayed with fresh attempts; an event that went to
        no route goes to the routes that take it now."""
        namespace = namespace_of(source)

        async def retried() -> Response:
            record = await store.event(namespace, event_id)
            if not record.destinations:
                return await _route(source, record)
            done: dict[str, str] = {}
            for destination, state in record.destinations.items():
                queue = queue_name(namespace, destination)
                if state == DEAD:
                    await store.replay(queue, event_id)
                    done[destination] = "replayed"
                elif state == PENDING:
                    moved = await store.expedite(queue, event_id)
                    done[destination] = "now" if moved else "already due or in flight"
                else:
                    done[destination] = state
                if state in (DEAD, PENDING):
                    wake_courier(context, queue)
            return _json({"status": "retrying", "destinations": done})

        missing = f"no event {event_id} from {source} waiting to be delivered"
        return await from_store(retried(), missing=missing)

    async def _route(source: str, record: EventRecord) -> Response:
        router = routers.get(source)
        if router is None or not any(route.matches(record.type) for route in router.routes):
            return _error(409, f"no route takes {record.type} events yet ({record.status})")
        deliveries = router.deliveries(record.type, record.payload)
        added = await store.add_deliveries(record, deliveries)
        for delivery in deliveries:
            wake_courier(context, delivery.queue)
        return _json({"status": "routed", "destinations": dict.fromkeys(added, "queued")})
