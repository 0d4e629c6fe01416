"""Where a stored event goes: routes by event type, to a forward URL or a Python handler."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ..clients import ProviderClient, ProviderError
from ..resilience import ResilienceError
from ..store import QueueItem
from .verifiers.standard import secret_key

#: Delivers one event; raises DeliveryFailed (or RouteGone) when it did not land.
Destination = Callable[[QueueItem], Awaitable[None]]


class DeliveryFailed(Exception):
    """The destination did not take the event; try again later (not before ``retry_after_s``)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RouteGone(DeliveryFailed):
    """The destination answered 410 Gone: the route is disabled until an operator acts."""


@dataclass(frozen=True, slots=True)
class Route:
    """Events of ``source`` whose type matches one of ``patterns`` go to ``deliver``.

    ``name`` keys the processed marks: a route that has delivered an event is
    never asked to deliver it again, even after a crash and redelivery.
    """

    name: str
    source: str
    patterns: Sequence[str]
    deliver: Destination

    def matches(self, event_type: str) -> bool:
        return any(fnmatchcase(event_type, pattern) for pattern in self.patterns)


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """A Standard Webhooks ``webhook-signature`` value for ``body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class ForwardDestination:
    """POSTs the original event bytes to the app, signed with Standard Webhooks headers,
    through a resilient client (its own limiter and breaker per destination)."""

    def __init__(self, client: ProviderClient, path: str, signing_secret: str) -> None:
        self.client = client
        self.path = path
        self._secret = signing_secret

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __call__(self, item: QueueItem) -> None:
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": item.id,
            "webhook-timestamp": str(now),
            "webhook-signature": standard_signature(self._secret, item.id, now, item.payload),
        }
        try:
            await self.client.request(
                "POST", self.path, endpoint="forward", content=item.payload, headers=headers
            )
        except ProviderError as exc:
            if exc.status == 410:
                raise RouteGone(f"{self.path} answered 410 Gone") from exc
            raise DeliveryFailed(f"{exc}", retry_after_s=exc.retry_after_s) from exc
        except ResilienceError as exc:
            raise DeliveryFailed(
                str(exc), retry_after_s=getattr(exc, "retry_after_s", None)
            ) from exc


class HandlerDestination:
    """Awaits a Python callable named ``"package.module:function"`` with the stored item."""

    def __init__(self, target: str) -> None:
        module_name, _, attribute = target.partition(":")
        if not module_name or not attribute:
            raise ValueError(f"a handler is 'package.module:function', not {target!r}")
        handler: Any = getattr(importlib.import_module(module_name), attribute)
        if not callable(handler):
            raise ValueError(f"{target} is not callable")  # noqa: TRY004 -- a bad config value
        self.target = target
        self._handler = handler

    async def __call__(self, item: QueueItem) -> None:
        try:
            await self._handler(item)
        except DeliveryFailed:
            raise
        except Exception as exc:
            raise DeliveryFailed(f"handler {self.target}: {type(exc).__name__}: {exc}") from exc
