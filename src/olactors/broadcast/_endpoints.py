"""The app's customers' webhook endpoints: registered, kept in the store, signed for.

All endpoints live in one store document (``broadcast:endpoints``), at most
``[broadcast] max_endpoints`` of them: every replica reads the same list,
and a change is a read-modify-write under a short store lock, so two
replicas never lose each other's change. Whether an endpoint is disabled is
its courier's route state (the app's disable, or a 410 Gone), so the
delivery engine and the API can never disagree about it.

Secrets are Standard Webhooks ``whsec_`` secrets, generated here and shown
once. Rotating keeps the previous secret signing beside the new one for
:data:`ROTATION_OVERLAP_S` (24 h, as Svix does), so receivers can switch
without dropping a message.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

import msgspec

from ..delivery import AttemptRejected, Delivered, HttpDestination
from ..runtime import Clock
from ..signing import SECRET_PREFIX
from ..store import QueueItem, Store
from ._channels import for_webhook, unpack
from ._document import LockedDocument
from ._ssrf import guarded_transport

KEY = "broadcast:endpoints"
ROTATION_OVERLAP_S = 24 * 3600.0
#: How long a courier trusts the endpoint it read: a change made on another
#: replica (a new URL, a rotated secret) is in use within this long.
ENDPOINT_CACHE_S = 5.0


class Secret(msgspec.Struct, frozen=True):
    value: str
    #: None while it is the current secret; else when it stops signing.
    retires_at: float | None = None


class Endpoint(msgspec.Struct, frozen=True):
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: float
    secrets: list[Secret]  #: the current one first
    version: int = 1

    def takes(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing(self, now: float) -> list[str]:
        return [s.value for s in self.secrets if s.retires_at is None or s.retires_at > now]


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_endpoint_id() -> str:
    return "ep_" + secrets.token_hex(12)


class TooManyEndpoints(Exception):
    pass


class Endpoints:
    """The endpoints document in the store."""

    def __init__(self, store: Store, clock: Clock, *, limit: int) -> None:
        self._document = LockedDocument(store, KEY, Endpoint)
        self._clock = clock
        self.limit = limit

    async def all(self) -> dict[str, Endpoint]:
        return await self._document.read()

    async def one(self, endpoint_id: str) -> Endpoint | None:
        return (await self.all()).get(endpoint_id)

    async def change(
        self, edit: Callable[[dict[str, Endpoint]], Endpoint | None]
    ) -> Endpoint | None:
        """Apply ``edit`` to the document under its lock and store it; its answer back.
        :class:`LockBusy` when the lock stays taken; :class:`TooManyEndpoints` past the limit."""

        def bounded(endpoints: dict[str, Endpoint]) -> Endpoint | None:
            before = len(endpoints)
            answer = edit(endpoints)
            # Only a change that adds one is held to the limit (which may
            # have been lowered below what is kept).
            if len(endpoints) > max(before, self.limit):
                raise TooManyEndpoints(f"at most {self.limit} endpoints")
            return answer

        return await self._document.change(bounded)

    async def rotate(self, endpoint_id: str) -> tuple[Endpoint, str] | None:
        """A new current secret; the old one signs too for another day."""
        secret = new_secret()
        now = self._clock()

        def edit(endpoints: dict[str, Endpoint]) -> Endpoint | None:
            old = endpoints.get(endpoint_id)
            if old is None:
                return None
            kept = [
                Secret(s.value, s.retires_at or now + ROTATION_OVERLAP_S)
                for s in old.secrets
                if s.retires_at is None or s.retires_at > now
            ]
            endpoints[endpoint_id] = msgspec.structs.replace(
                old, secrets=[Secret(secret), *kept], version=old.version + 1
            )
            return endpoints[endpoint_id]

        changed = await self.change(edit)
        return None if changed is None else (changed, secret)


class EndpointDestination:
    """One endpoint as a destination: the webhook form of the event, signed with every
    live secret, POSTed through the SSRF guard (unless private endpoints are allowed).

    The endpoint is read from the store at most every :data:`ENDPOINT_CACHE_S`;
    a new URL or secret builds a new HTTP destination.
    """

    def __init__(
        self, endpoint_id: str, endpoints: Endpoints, clock: Clock, *, allow_private: bool
    ) -> None:
        self.endpoint_id = endpoint_id
        self._endpoints = endpoints
        self._clock = clock
        self._allow_private = allow_private
        self._read_at = float("-inf")
        self._endpoint: Endpoint | None = None
        self._http: HttpDestination | None = None
        self._built: tuple[Any, ...] = ()

    async def _current(self) -> HttpDestination | None:
        now = self._clock()
        if now - self._read_at >= ENDPOINT_CACHE_S:
            self._endpoint = await self._endpoints.one(self.endpoint_id)
            self._read_at = now
        endpoint = self._endpoint
        if endpoint is None:
            return None
        wanted = (endpoint.url, tuple(endpoint.signing(now)))
        if self._http is None:
            transport = None if self._allow_private else guarded_transport(64)
            self._http = HttpDestination(
                endpoint.url, list(wanted[1]), clock=self._clock, transport=transport
            )
        elif wanted != self._built:
            # No await between the check and the change: concurrent attempts
            # see one destination, and those under way are not cut off.
            self._http.retarget(endpoint.url, list(wanted[1]))
        self._built = wanted
        return self._http

    async def deliver(self, item: QueueItem) -> Delivered:
        http = await self._current()
        if http is None:
            raise AttemptRejected(f"endpoint {self.endpoint_id} was deleted")
        event, _ = unpack(item)
        body = msgspec.json.encode(for_webhook(event))
        return await http.deliver(msgspec.structs.replace(item, payload=body))

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
