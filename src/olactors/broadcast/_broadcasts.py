"""``/v1/broadcasts``: one durable call from the app fans an event out to its targets.

A broadcast is one event in the log (namespace ``broadcast``), stored with
one delivery per target in one atomic step before the 202: target ``i`` is
destination ``t<i>`` of the event and an item in its channel's queue. The
log then holds each target's state and every attempt, which is what
``GET /v1/broadcasts/{id}`` reads, on any replica.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import trio

from ..api import ErrorDetail, NotFound, Operations, ValidationFailed
from ..delivery import RouteState, Wake, queue_name, state_key
from ..runtime import ActorContext, ActorError
from ..store import DEAD, DELIVERED, DROPPED, Delivery, EventRecord, ItemNotFound, Store
from ..times import iso_utc
from ._channels import TARGET
from ._endpoints import Endpoints
from ._model import (
    NAMESPACE,
    Accepted,
    BroadcastId,
    BroadcastRequest,
    BroadcastStatus,
    EmailTarget,
    PushTarget,
    StoredBroadcast,
    StoredEvent,
    Target,
    TargetOutcome,
    WebhookTarget,
    WebsocketTarget,
    broadcast_id,
    decode_stored,
    destination_name,
    encode,
)
from ._paths import EMAIL, PUSH, WEBSOCKET, channel_courier

#: How often a waiting ``GET`` looks at the log again.
_POLL_S = 0.05
#: The most one broadcast may store: its size times its targets (each
#: target's item carries it). A fan-out to every endpoint counts each one.
MAX_FANOUT_BYTES = 32 * 1024 * 1024


class WaitQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Answer once every target has settled, or after this many seconds.
    wait: Annotated[float, msgspec.Meta(ge=0, le=30)] = 0.0


def iso(timestamp: float) -> str:
    return iso_utc(timestamp, timespec="auto")


def courier_of(target: Target) -> str:
    """The courier (and queue) of a target: its channel's, or its endpoint's."""
    if isinstance(target, WebhookTarget):
        assert target.endpoint is not None  # fan-outs are expanded before this
        return target.endpoint
    return {WebsocketTarget: WEBSOCKET, PushTarget: PUSH, EmailTarget: EMAIL}[type(target)]


def outcome(record: EventRecord, stored: StoredBroadcast) -> BroadcastStatus:
    details = []
    for index, target in enumerate(stored.targets):
        name = destination_name(index)
        state = record.destinations.get(name, "pending")
        attempts = [a for a in record.attempts if a.destination == name]
        errors = [a.error for a in attempts if a.error]
        status = "delivered" if state == DELIVERED else "failed" if state == DEAD else "pending"
        details.append(
            TargetOutcome(
                target=target,
                status=status,  # type: ignore[arg-type]
                attempts=len(attempts),
                last_error=errors[-1] if errors and status != "delivered" else None,
            )
        )
    counts = {s: sum(d.status == s for d in details) for s in ("delivered", "failed", "pending")}
    return BroadcastStatus(
        id=record.id,
        event=stored.event,
        successful=counts["delivered"],
        failed=counts["failed"],
        pending=counts["pending"],
        details=details,
    )


class Broadcasts:
    """Stores broadcasts and reads their outcome."""

    def __init__(
        self,
        store: Store,
        endpoints: Endpoints,
        context: ActorContext,
        *,
        channels: Callable[[], set[str]],
        retention_s: float,
    ) -> None:
        self._store = store
        self._endpoints = endpoints
        self._context = context
        self._channels = channels
        self.retention_s = retention_s

    async def targets(self, request: BroadcastRequest) -> list[Target]:
        """The request's targets, fan-outs expanded; a 422 naming each one refused."""
        problems: list[ErrorDetail] = []
        webhooks = any(isinstance(t, WebhookTarget) for t in request.targets)
        endpoints = await self._endpoints.all() if webhooks else {}
        on = self._channels()
        targets: list[Target] = []
        for index, target in enumerate(request.targets):
            where = f"$.targets[{index}]"
            if isinstance(target, WebhookTarget) and target.endpoint is None:
                takers = [e.id for e in endpoints.values() if e.takes(request.event.type)]
                targets += [WebhookTarget(e) for e in takers if not await self._disabled(e)]
                continue
            if isinstance(target, WebhookTarget) and target.endpoint not in endpoints:
                problems.append(ErrorDetail(f"no endpoint {target.endpoint}", where))
            elif isinstance(target, (EmailTarget, PushTarget)) and courier_of(target) not in on:
                channel = courier_of(target)
                problems.append(ErrorDetail(f"the {channel} channel is not configured", where))
            targets.append(target)
        if problems:
            raise ValidationFailed("some targets cannot be reached", problems)
        # The same target twice is delivered once.
        return list(dict.fromkeys(targets))

    async def _disabled(self, endpoint_id: str) -> bool:
        """A fan-out skips an endpoint the app disabled or that answered 410 (as Svix
        does); a target naming it explicitly waits for it instead."""
        raw = await self._store.get(state_key(NAMESPACE, endpoint_id))
        return raw is not None and msgspec.json.decode(raw, type=RouteState).paused

    async def store(self, request: BroadcastRequest) -> Accepted:
        targets = await self.targets(request)
        event = request.event
        bid = broadcast_id(event.id)
        occurred = event.occurred_at or datetime.fromtimestamp(self._context.clock(), UTC)
        stamp = occurred.astimezone(UTC).isoformat().replace("+00:00", "Z")
        stored = StoredBroadcast(
            StoredEvent(event.id or bid, event.type, event.payload, stamp), targets
        )
        payload = encode(stored)
        if len(payload) * max(1, len(targets)) > MAX_FANOUT_BYTES:
            raise ValidationFailed(
                f"{len(targets)} targets of a {len(payload)}-byte broadcast is more than "
                f"{MAX_FANOUT_BYTES} bytes to store: send a smaller payload or fewer targets"
            )
        # Item ids of their own for this publish: an event id sent again after
        # its record expired must not meet the old items (dead letters stay).
        nonce = secrets.token_hex(4)
        deliveries = [
            Delivery(
                destination_name(index),
                queue_name(NAMESPACE, courier_of(target)),
                item_id=f"{bid}.{nonce}.{index}",
                meta={TARGET: str(index)},
            )
            for index, target in enumerate(targets)
        ]
        result = await self._store.publish(
            NAMESPACE,
            bid,
            event.type,
            payload,
            deliveries,
            retention_s=self.retention_s,
            empty_status=DROPPED,
        )
        if not result.duplicate:
            for courier in {courier_of(target) for target in targets}:
                with contextlib.suppress(ActorError):
                    self._context.actor_ref(channel_courier(courier)).tell_nowait(Wake())
        return Accepted(bid)

    async def status(self, bid: str, wait_s: float) -> BroadcastStatus:
        deadline = trio.current_time() + wait_s
        while True:
            try:
                record = await self._store.event(NAMESPACE, bid)
            except ItemNotFound:
                raise NotFound(f"no broadcast {bid} (or no longer kept)") from None
            answer = outcome(record, decode_stored(record.payload))
            if answer.pending == 0 or trio.current_time() >= deadline:
                return answer
            await trio.sleep(min(_POLL_S, max(0.0, deadline - trio.current_time())))


def broadcasts_part(make: Callable[[ActorContext, Store], Broadcasts]) -> Any:
    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        broadcasts = make(context, store)

        @operations.add(
            "POST",
            "/v1/broadcasts",
            summary="Store an event and deliver it to every target (202: stored, not yet sent)",
            body=BroadcastRequest,
            response=Accepted,
            status=202,
            tag="broadcast",
        )
        async def create_broadcast(body: BroadcastRequest, query: None) -> Accepted:
            return await broadcasts.store(body)

        @operations.add(
            "GET",
            "/v1/broadcasts/<bid>",
            summary="Each target's outcome: delivered, failed or pending (?wait=s to wait)",
            query=WaitQuery,
            response=BroadcastStatus,
            tag="broadcast",
            errors=(404,),
            params={"bid": BroadcastId},
        )
        async def get_broadcast(body: None, query: WaitQuery, bid: str) -> BroadcastStatus:
            return await broadcasts.status(bid, query.wait)

    return part
