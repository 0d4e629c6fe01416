"""``/v1/users/{user}/devices``: the app registers its users' phones for the push channel."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from ..api import ErrorDetail, NotFound, Operations, ValidationFailed
from ..runtime import ActorContext
from ..store import Store
from ._broadcasts import iso
from ._devices import Device, Devices, Platform, TooManyDevices
from ._model import User

DeviceId = Annotated[str, msgspec.Meta(pattern=r"^dv_[0-9a-f]{24}$")]
#: A registration token as FCM hands it to the app, or Expo's ExponentPushToken[...].
Token = Annotated[str, msgspec.Meta(pattern=r"^[!-~]{1,4096}$")]
_EXPO_TOKEN = re.compile(r"^Expo(nent)?PushToken\[[^\]]+\]$")


class NewDevice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    platform: Platform
    token: Token


class DeviceView(msgspec.Struct, frozen=True):
    id: str
    platform: str
    token: str
    registered_at: str


class DeviceList(msgspec.Struct, frozen=True):
    items: list[DeviceView]


class DeviceDeleted(msgspec.Struct, frozen=True):
    id: str
    deleted: bool


def _view(device: Device) -> DeviceView:
    return DeviceView(device.id, device.platform, device.token, iso(device.registered_at))


def devices_part(make: Callable[[ActorContext, Store], Devices]) -> Any:
    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        devices = make(context, store)
        params = {"user": User}

        @operations.add(
            "POST",
            "/v1/users/<user>/devices",
            summary="Register a device for push (the same token twice is one device)",
            body=NewDevice,
            response=DeviceView,
            status=201,
            tag="push",
            params=params,
        )
        async def register_device(body: NewDevice, query: None, user: str) -> DeviceView:
            if body.platform == "expo" and not _EXPO_TOKEN.match(body.token):
                detail = ErrorDetail("an Expo token is ExponentPushToken[...]", "$.token")
                raise ValidationFailed("not an Expo push token", [detail])
            try:
                return _view(await devices.add(user, body.platform, body.token))
            except TooManyDevices as exc:
                raise ValidationFailed(str(exc)) from None

        @operations.add(
            "GET",
            "/v1/users/<user>/devices",
            summary="A user's devices, oldest first",
            response=DeviceList,
            tag="push",
            params=params,
        )
        async def list_devices(body: None, query: None, user: str) -> DeviceList:
            return DeviceList([_view(d) for d in await devices.of(user)])

        @operations.add(
            "DELETE",
            "/v1/users/<user>/devices/<device_id>",
            summary="Forget a device",
            response=DeviceDeleted,
            tag="push",
            errors=(404,),
            params={**params, "device_id": DeviceId},
        )
        async def delete_device(
            body: None, query: None, user: str, device_id: str
        ) -> DeviceDeleted:
            removed = await devices.remove(user, device_id)
            if not removed:
                raise NotFound(f"user {user} has no device {device_id}")
            return DeviceDeleted(device_id, True)

    return part
