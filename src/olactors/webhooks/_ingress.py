"""``POST /webhooks/{source}``: verify, deduplicate, store durably, then answer.

A plain ASGI app, not a Quart route: this is the hot path, and a framework's
routing costs more here than the rest of the work. It answers 200 only once
every event of the request is durably stored (or known as a duplicate);
503 with Retry-After when the store cannot take it, so the provider retries;
4xx, never 5xx, for a bad request, and nothing of a refused request is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import trio

from .. import metrics
from ..config import SourceKind as Kind
from ..http import answer_lifespan, retry_after
from ..runtime import Clock
from ..store import DEFAULT_KEEP_S, Delivery, EnqueueResult, Store, StoreUnavailable
from ._budget import BodyBudget, Hold
from ._errors import (
    BodyTimeout,
    BodyTooLarge,
    EdgeBusy,
    ForbiddenSender,
    UnknownSource,
    WebhookError,
)
from ._events import IncomingEvent, events_of
from ._routes import Router
from ._senders import Network, allowed, sender
from .verifiers import Verifier

log = logging.getLogger("olactors.webhooks")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/webhooks/"

#: Tells the couriers of these deliveries that something waits for them.
Wake = Callable[[str, list[Delivery]], None]


def _no_wake(namespace: str, deliveries: list[Delivery]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class WebhookSource:
    """A configured sender: its name (the URL segment and its queue), kind and verifier,
    and the networks it may send from (empty: anywhere)."""

    name: str
    kind: Kind
    verifier: Verifier
    allow_from: tuple[Network, ...] = ()


class _Answer(msgspec.Struct, omit_defaults=True):
    status: str
    event_id: str | None = None
    events: list[dict[str, str]] | None = None
    error: str | None = None
    message: str | None = None


class WebhookIngress:
    """The ASGI app of the public listener's webhook routes.

    Each event is published with its deliveries (one per matching route, see
    :class:`Router`) in one atomic store step; once that commits, ``wake``
    tells the couriers, so delivery starts at once rather than at a poll.
    """

    def __init__(
        self,
        sources: Mapping[str, WebhookSource],
        store: Store,
        *,
        routers: Mapping[str, Router] | None = None,
        wake: Wake = _no_wake,
        max_body_bytes: int = 1_048_576,
        body_timeout_s: float = 10.0,
        budget: BodyBudget | None = None,
        dedup_ttl_s: float = DEFAULT_KEEP_S,
        retention_s: float = DEFAULT_KEEP_S,
        trusted_proxies: tuple[Network, ...] = (),
        clock: Clock = time.time,
    ) -> None:
        self.sources = dict(sources)
        self.store = store
        self.routers = {name: Router(name, []) for name in self.sources} | dict(routers or {})
        self._wake = wake
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        #: Bytes of request bodies held at once, across every request.
        self.budget = budget if budget is not None else BodyBudget(64 * max_body_bytes)
        self.dedup_ttl_s = dedup_ttl_s
        self.retention_s = retention_s
        self.trusted_proxies = trusted_proxies
        self._clock = clock
        self._encode = msgspec.json.Encoder().encode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            status, answer, extra = await self._handle(scope, receive)
        except _RefusedMidBody as refused:
            # The rest of the body may still be on its way: answer, and end
            # the connection rather than read (or wait for) what is left. A
            # client still sending may see the connection reset before the
            # answer; a provider retries that like any failure, and nothing
            # of the request was stored.
            exc = refused.error
            status, extra = exc.status, [(b"connection", b"close")]
            if isinstance(exc, EdgeBusy):
                metrics.HTTP_REFUSED.labels("public", "bodies").inc()
            if exc.retry_after_s is not None:
                extra.append(retry_after(exc.retry_after_s))
            answer = _Answer("refused", error=type(exc).__name__, message=str(exc))
        except WebhookError as exc:
            status = exc.status
            extra = [] if exc.retry_after_s is None else [retry_after(exc.retry_after_s)]
            answer = _Answer("refused", error=type(exc).__name__, message=str(exc))
        name = scope["path"][len(PREFIX) :] if scope["path"].startswith(PREFIX) else ""
        source = name if name in self.sources else "unknown"
        metrics.INGRESS_REQUESTS.labels(source, str(status)).inc()
        await self._respond(send, status, answer, extra)

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, _Answer, list[tuple[bytes, bytes]]]:
        path: str = scope["path"]
        name = path[len(PREFIX) :] if path.startswith(PREFIX) else None
        source = self.sources.get(name) if name else None
        if source is None:
            raise UnknownSource(f"no webhook source at {path}")
        if scope["method"] != "POST":
            return 405, _Answer("refused", error="MethodNotAllowed"), [(b"allow", b"POST")]
        headers = _headers(scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        declared = headers.get("content-length", "")
        try:
            # ASCII digits only (int() refuses "²", which isdigit() takes), and
            # never converted past 18 of them (Python refuses 4,300 and more).
            digits = declared.isascii() and declared.isdigit()
            if digits and (len(declared) > 18 or int(declared) > self.max_body_bytes):
                raise BodyTooLarge(f"body over {self.max_body_bytes} bytes")
            # Refused on its headers alone (a sender outside allow_from, no
            # signature, a stale timestamp, a wrong AbacatePay secret), a
            # request never gets to send its body.
            if source.allow_from:
                client = scope.get("client")
                peer = client[0] if client else None
                address = sender(peer, headers.get("x-forwarded-for"), self.trusted_proxies)
                if not allowed(address, source.allow_from):
                    raise ForbiddenSender(f"{source.name} does not send from {address}")
            source.verifier.precheck(headers, query, self._clock())
        except WebhookError as exc:
            raise _RefusedMidBody(exc) from None
        body = await self._read(receive)
        source.verifier.verify(headers, query, body, self._clock())
        events = events_of(source.kind, headers, body)
        try:
            results = await self._store_all(source.name, events)
        except StoreUnavailable as exc:
            log.error(  # noqa: TRY400 -- an outage, not a bug: no traceback
                "%s webhook not stored, answering 503: %s",
                source.name,
                exc,
                extra={"source": source.name, "event_id": events[0].id},
            )
            return self._unavailable(exc.retry_after_s or StoreUnavailable.retry_after_s)
        except Exception:
            # Not stored, or not known to be: the provider must send it again.
            log.exception("%s webhook not stored (unexpected error), answering 503", source.name)
            return self._unavailable(StoreUnavailable.retry_after_s)
        return 200, _summary(source.kind, events, results), []

    def _unavailable(self, wait_s: float) -> tuple[int, _Answer, list[tuple[bytes, bytes]]]:
        answer = _Answer("unavailable", message="the event could not be stored; retry")
        return 503, answer, [retry_after(wait_s)]

    async def _read(self, receive: Receive) -> bytes:
        """The body, within ``body_timeout_s`` and the shared byte budget.

        Refused as soon as it grows past the limit, stalls past the deadline
        or finds the budget spent (not after reading it all). The budget is
        taken as bytes arrive, not for the declared length: a client that
        declares a large body and stalls holds only what it sent, so it
        cannot keep the budget from the requests that do arrive.
        """
        hold = self.budget.hold()
        try:
            with trio.move_on_after(self.body_timeout_s):
                return await self._receive_body(receive, hold)
            raise BodyTimeout(f"the body did not arrive within {self.body_timeout_s:g} s")
        except WebhookError as exc:
            raise _RefusedMidBody(exc) from None
        finally:
            hold.release()

    async def _receive_body(self, receive: Receive, hold: Hold) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise WebhookError("the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge(f"body over {self.max_body_bytes} bytes")
            if not hold.grow_to(size):
                raise EdgeBusy("too many request bodies in flight; retry")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _store_all(self, name: str, events: list[IncomingEvent]) -> list[EnqueueResult]:
        if len(events) == 1:
            return [await self._store_one(name, events[0])]
        # Concurrently, so a SendGrid batch shares one commit. Failures are
        # collected, not raised in the nursery (which would wrap them in a group).
        results: list[EnqueueResult | None] = [None] * len(events)
        failures: list[Exception] = []

        async def one(index: int, event: IncomingEvent) -> None:
            try:
                results[index] = await self._store_one(name, event)
            except Exception as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            for index, event in enumerate(events):
                nursery.start_soon(one, index, event)
        if failures:
            raise failures[0]
        return [r for r in results if r is not None]

    async def _store_one(self, name: str, event: IncomingEvent) -> EnqueueResult:
        router = self.routers[name]
        deliveries = router.deliveries(event.type, event.payload)
        result = await self.store.publish(
            router.namespace,
            event.id,
            event.type,
            event.payload,
            deliveries,
            retention_s=self.retention_s,
            dedup_key=f"{name}:{event.id}",
            dedup_ttl_s=self.dedup_ttl_s,
            empty_status=router.empty_status,
        )
        if deliveries and not result.duplicate:
            self._wake(router.namespace, deliveries)
        return result

    async def _respond(
        self, send: Send, status: int, answer: _Answer, extra: list[tuple[bytes, bytes]]
    ) -> None:
        body = self._encode(answer)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _RefusedMidBody(Exception):
    """A refusal decided before the whole body was read: the connection must end."""

    def __init__(self, error: WebhookError) -> None:
        super().__init__(str(error))
        self.error = error


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _summary(kind: Kind, events: list[IncomingEvent], results: list[EnqueueResult]) -> _Answer:
    states = ["duplicate" if r.duplicate else "queued" for r in results]
    overall = "queued" if "queued" in states else "duplicate"
    if kind != "sendgrid":
        return _Answer(overall, event_id=events[0].id)
    listed = [{"event_id": e.id, "status": s} for e, s in zip(events, states, strict=True)]
    return _Answer(overall, events=listed)
