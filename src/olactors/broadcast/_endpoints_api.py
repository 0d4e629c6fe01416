"""``/v1/endpoints``: the app registers its customers' webhook endpoints (as Svix's API does).

Create (the secret is in that answer and the rotate answer only), list with
a cursor, read, change, delete, rotate the secret, disable and enable. An
endpoint's URL passes the SSRF guard at registration and again at every
connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from ..api import ErrorDetail, NotFound, Operations, ValidationFailed
from ..delivery import Pause, Resume, RouteState, state_key
from ..runtime import ActorContext, ActorError
from ..store import Store
from ._broadcasts import iso
from ._endpoints import (
    Endpoint,
    Endpoints,
    Secret,
    TooManyEndpoints,
    new_endpoint_id,
    new_secret,
)
from ._model import NAMESPACE, EndpointId, EventType
from ._paths import WEBHOOK_PATH, channel_courier
from ._ssrf import UnsafeEndpoint, check_url
from ._webhook_channel import Sync

Url = Annotated[
    str, msgspec.Meta(min_length=8, max_length=2000, examples=["https://example.com/hooks"])
]
EventTypes = Annotated[list[EventType], msgspec.Meta(max_length=100)]
Description = Annotated[str, msgspec.Meta(max_length=500)]


class NewEndpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Url
    #: The event types a fan-out (a webhook target without an endpoint) sends
    #: it; empty: every type.
    event_types: EventTypes = []
    description: Description = ""


class EndpointChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None


class EndpointView(msgspec.Struct, frozen=True):
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: str
    disabled: bool
    #: Why: the app's disable, or the 410 Gone the endpoint answered.
    disabled_reason: str | None


class CreatedEndpoint(msgspec.Struct, frozen=True):
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: str
    disabled: bool
    #: Shown here and after a rotation only: the receiver verifies with it.
    secret: str


class EndpointPage(msgspec.Struct, frozen=True):
    items: list[EndpointView]
    next_cursor: str | None


class PageQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cursor: EndpointId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50


class RotatedSecret(msgspec.Struct, frozen=True):
    secret: str
    #: Until when the previous secret still signs beside this one.
    previous_valid_until: str


class Deleted(msgspec.Struct, frozen=True):
    id: str
    deleted: bool


class EndpointApi:
    def __init__(
        self, endpoints: Endpoints, store: Store, context: ActorContext, *, allow_private: bool
    ) -> None:
        self.endpoints = endpoints
        self._store = store
        self._context = context
        self._allow_private = allow_private

    async def check(self, url: str) -> None:
        try:
            await check_url(url, allow_private=self._allow_private)
        except UnsafeEndpoint as exc:
            raise ValidationFailed(
                "the endpoint cannot be used", [ErrorDetail(str(exc), "$.url")]
            ) from None

    async def change(
        self, edit: Callable[[dict[str, Endpoint]], Endpoint | None]
    ) -> Endpoint | None:
        try:
            changed = await self.endpoints.change(edit)
        except TooManyEndpoints as exc:
            raise ValidationFailed(str(exc)) from None
        with contextlib.suppress(ActorError):
            self._context.actor_ref(f"{WEBHOOK_PATH}/registry").tell_nowait(Sync())
        return changed

    async def state(self, endpoint_id: str) -> RouteState:
        raw = await self._store.get(state_key(NAMESPACE, endpoint_id))
        return msgspec.json.decode(raw, type=RouteState) if raw else RouteState()

    async def view(self, endpoint: Endpoint) -> EndpointView:
        state = await self.state(endpoint.id)
        return EndpointView(
            endpoint.id,
            endpoint.url,
            endpoint.event_types,
            endpoint.description,
            iso(endpoint.created_at),
            state.paused,
            state.reason or None if state.paused else None,
        )

    async def found(self, endpoint_id: str) -> Endpoint:
        endpoint = await self.endpoints.one(endpoint_id)
        if endpoint is None:
            raise NotFound(f"no endpoint {endpoint_id}")
        return endpoint

    async def set_disabled(self, endpoint_id: str, disabled: bool) -> EndpointView:
        endpoint = await self.found(endpoint_id)
        await self.set_state(endpoint_id, disabled=disabled)
        return await self.view(endpoint)

    async def set_state(self, endpoint_id: str, *, disabled: bool) -> None:
        now = self._context.clock()
        state = (
            RouteState(paused=True, since=now, reason="disabled by the app")
            if disabled
            else RouteState()
        )
        await self._store.put(state_key(NAMESPACE, endpoint_id), msgspec.json.encode(state))
        with contextlib.suppress(ActorError):
            # The courier here at once; those of other replicas at their next read.
            message = Pause("disabled by the app") if disabled else Resume()
            self._context.actor_ref(channel_courier(endpoint_id)).tell_nowait(message)


def endpoints_part(allow_private: bool, make: Callable[[ActorContext, Store], Endpoints]) -> Any:
    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        api = EndpointApi(make(context, store), store, context, allow_private=allow_private)
        tag = "endpoints"
        ids = {"endpoint_id": EndpointId}

        @operations.add(
            "POST",
            "/v1/endpoints",
            summary="Register a webhook endpoint (its secret is shown once)",
            body=NewEndpoint,
            response=CreatedEndpoint,
            status=201,
            tag=tag,
        )
        async def create_endpoint(body: NewEndpoint, query: None) -> CreatedEndpoint:
            await api.check(body.url)
            endpoint = Endpoint(
                new_endpoint_id(),
                body.url,
                list(dict.fromkeys(body.event_types)),
                body.description,
                context.clock(),
                [Secret(new_secret())],
            )

            def add(endpoints: dict[str, Endpoint]) -> Endpoint:
                endpoints[endpoint.id] = endpoint
                return endpoint

            await api.change(add)
            return CreatedEndpoint(
                endpoint.id,
                endpoint.url,
                endpoint.event_types,
                endpoint.description,
                iso(endpoint.created_at),
                False,
                endpoint.secrets[0].value,
            )

        @operations.add(
            "GET",
            "/v1/endpoints",
            summary="The endpoints, by id, a page at a time",
            query=PageQuery,
            response=EndpointPage,
            tag=tag,
        )
        async def list_endpoints(body: None, query: PageQuery) -> EndpointPage:
            everything = sorted((await api.endpoints.all()).values(), key=lambda e: e.id)
            after = [e for e in everything if query.cursor is None or e.id > query.cursor]
            page = after[: query.limit]
            more = len(after) > query.limit
            return EndpointPage([await api.view(e) for e in page], page[-1].id if more else None)

        @operations.add(
            "GET",
            "/v1/endpoints/<endpoint_id>",
            summary="One endpoint",
            response=EndpointView,
            tag=tag,
            errors=(404,),
            params=ids,
        )
        async def get_endpoint(body: None, query: None, endpoint_id: str) -> EndpointView:
            return await api.view(await api.found(endpoint_id))

        @operations.add(
            "PATCH",
            "/v1/endpoints/<endpoint_id>",
            summary="Change an endpoint's URL, types or description",
            body=EndpointChange,
            response=EndpointView,
            tag=tag,
            errors=(404,),
            params=ids,
        )
        async def change_endpoint(
            body: EndpointChange, query: None, endpoint_id: str
        ) -> EndpointView:
            if body.url is not None:
                await api.check(body.url)

            def edit(endpoints: dict[str, Endpoint]) -> Endpoint | None:
                old = endpoints.get(endpoint_id)
                if old is None:
                    return None
                changes: dict[str, Any] = {
                    name: value
                    for name, value in msgspec.structs.asdict(body).items()
                    if value is not None
                }
                if "event_types" in changes:
                    changes["event_types"] = list(dict.fromkeys(changes["event_types"]))
                endpoints[endpoint_id] = msgspec.structs.replace(
                    old, **changes, version=old.version + 1
                )
                return endpoints[endpoint_id]

            changed = await api.change(edit)
            if changed is None:
                raise NotFound(f"no endpoint {endpoint_id}")
            return await api.view(changed)

        @operations.add(
            "DELETE",
            "/v1/endpoints/<endpoint_id>",
            summary="Delete an endpoint; nothing more is sent to it",
            response=Deleted,
            tag=tag,
            errors=(404,),
            params=ids,
        )
        async def delete_endpoint(body: None, query: None, endpoint_id: str) -> Deleted:
            changed = await api.change(lambda endpoints: endpoints.pop(endpoint_id, None))
            if changed is None:
                raise NotFound(f"no endpoint {endpoint_id}")
            # Not paused any more: its courier rejects what is queued for it,
            # so each of those targets settles (failed), then it is removed.
            await api.set_state(endpoint_id, disabled=False)
            return Deleted(endpoint_id, True)

        @operations.add(
            "POST",
            "/v1/endpoints/<endpoint_id>/secret/rotate",
            summary="A new signing secret; the previous one still signs for 24 h",
            response=RotatedSecret,
            tag=tag,
            errors=(404,),
            params=ids,
        )
        async def rotate_endpoint_secret(
            body: None, query: None, endpoint_id: str
        ) -> RotatedSecret:
            rotated = await api.endpoints.rotate(endpoint_id)
            if rotated is None:
                raise NotFound(f"no endpoint {endpoint_id}")
            endpoint, secret = rotated
            until = max((s.retires_at or 0.0) for s in endpoint.secrets)
            return RotatedSecret(secret, iso(until))

        @operations.add(
            "POST",
            "/v1/endpoints/<endpoint_id>/disable",
            summary="Stop sending to an endpoint; what is queued for it waits",
            response=EndpointView,
            tag=tag,
            errors=(404,),
            params=ids,
        )
        async def disable_endpoint(body: None, query: None, endpoint_id: str) -> EndpointView:
            return await api.set_disabled(endpoint_id, True)

        @operations.add(
            "POST",
            "/v1/endpoints/<endpoint_id>/enable",
            summary="Send to an endpoint again (also after it answered 410 Gone)",
            response=EndpointView,
            tag=tag,
            errors=(404,),
            params=ids,
        )
        async def enable_endpoint(body: None, query: None, endpoint_id: str) -> EndpointView:
            return await api.set_disabled(endpoint_id, False)

    return part
