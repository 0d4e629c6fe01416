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

    def _owner(self, device: str) -> str:
        return f"push:owner:{device}"

    async def add(self, user: str, platform: Platform, token: str) -> Device:
        """Register a token for ``user``; a token another user had (a phone that changed
        hands, or accounts) is theirs no more, so it never gets their notifications."""
        device = Device(device_id(platform, token), platform, token, self._clock())
        previous = await self._store.get(self._owner(device.id))
        if previous is not None and previous.decode() != user:
            await self._document(previous.decode()).change(lambda d: d.pop(device.id, None))

        def edit(devices: dict[str, Device]) -> Device:
            if device.id in devices:
                return devices[device.id]
            if len(devices) >= MAX_DEVICES:
                raise TooManyDevices(f"a user has at most {MAX_DEVICES} devices")
            devices[device.id] = device
            return device

        added = await self._document(user).change(edit)
        await self._store.put(self._owner(device.id), user.encode())
        return added

    async def remove(self, user: str, device: str) -> bool:
        removed = await self._document(user).change(lambda devices: devices.pop(device, None))
        if removed is None:
            return False
        await self._store.delete(self._owner(device), if_value=user.encode())
        return True

    async def gone(self, user: str, device: Device) -> None:
        """The provider says the app is no longer on this device: forget its token."""
        if await self.remove(user, device.id):
            metrics.PUSH_TOKENS_REMOVED.labels(device.platform).inc()
