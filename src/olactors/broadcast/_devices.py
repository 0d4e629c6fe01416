"""Each user's push devices: FCM registration tokens and Expo push tokens, registered by the app."""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

from .. import metrics
from ..runtime import Clock
from ..store import Store
from ._document import LockedDocument

Platform = Literal["fcm", "expo"]

#: Devices one user may have at once; more is refused, not rotated out.
MAX_DEVICES = 100


class Device(msgspec.Struct, frozen=True):
    id: str
    platform: Platform
    token: str
    registered_at: float


def device_id(platform: str, token: str) -> str:
    """A short stable id: the same token registered twice is one device."""
    return "dv_" + hashlib.sha256(f"{platform}:{token}".encode()).hexdigest()[:24]


class TooManyDevices(Exception):
    pass


class Devices:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def _document(self, user: str) -> LockedDocument[Device]:
        return LockedDocument(self._store, f"push:devices:{user}", Device)

    async def of(self, user: str) -> list[Device]:
        devices = await self._document(user).read()
        return sorted(devices.values(), key=lambda d: d.registered_at)

    async def add(self, user: str, platform: Platform, token: str) -> Device:
        device = Device(device_id(platform, token), platform, token, self._clock())

        def edit(devices: dict[str, Device]) -> Device:
            if device.id in devices:
                return devices[device.id]
            if len(devices) >= MAX_DEVICES:
                raise TooManyDevices(f"a user has at most {MAX_DEVICES} devices")
            devices[device.id] = device
            return device

        return await self._document(user).change(edit)

    async def remove(self, user: str, device: str) -> bool:
        return (
            await self._document(user).change(lambda devices: devices.pop(device, None)) is not None
        )

    async def gone(self, user: str, device: Device) -> None:
        """The provider says the app is no longer on this device: forget its token."""
        if await self.remove(user, device.id):
            metrics.PUSH_TOKENS_REMOVED.labels(device.platform).inc()
