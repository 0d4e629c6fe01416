"""The push channel: a target is a user, delivered when each of their devices is done.

One attempt sends to every device of the user not yet done for this item:
FCM one request per device (a few at once), Expo in batches of up to 100.
A device is done when its message went (or will never go: refused, or the
token is dead and removed). Which devices are done is kept in the store
per item, so a retry after a partial failure sends only to the rest, and no
phone gets the same notification twice from one target.

Expo's tickets are only half the story: whether the message reached the
device is in its receipt, which Expo has some minutes later. Each attempt
that got tickets queues one receipt check (:class:`ReceiptCheck`) for
``receipt_delay_s`` later; a ``DeviceNotRegistered`` receipt removes the
token, as FCM's UNREGISTERED does at once.
"""

from __future__ import annotations

import json
import logging

import msgspec
import trio

from ..delivery import AttemptFailed, AttemptRejected, Delivered, queue_name
from ..runtime import Clock
from ..store import NewItem, QueueItem, Store, StoreError
from ._channels import for_push, unpack
from ._devices import Device, Devices
from ._model import NAMESPACE, PushTarget
from ._paths import PUSH_RECEIPTS
from ._push import EXPO_BATCH, ExpoSender, FcmSender, Gone, Later, Outcome, Refused, Sent

log = logging.getLogger("olactors.broadcast")

#: How long the store remembers which devices an item reached: longer than
#: any retry schedule.
_DONE_TTL_S = 7 * 24 * 3600.0
#: FCM requests in flight at once for one item.
_FCM_AT_ONCE = 16
#: The longest recording an attempt's outcomes may take after it was cut off.
_RECORD_S = 5.0


class ReceiptCheck(msgspec.Struct, frozen=True):
    """Expo tickets to look up: ticket id -> [user, device id]."""

    tickets: dict[str, list[str]]


class PushChannel:
    def __init__(
        self,
        devices: Devices,
        store: Store,
        clock: Clock,
        *,
        fcm: FcmSender | None,
        expo: ExpoSender | None,
        receipt_delay_s: float,
    ) -> None:
        self._devices = devices
        self._store = store
        self._clock = clock
        self._fcm = fcm
        self._expo = expo
        self.receipt_delay_s = receipt_delay_s

    async def deliver(self, item: QueueItem) -> Delivered:
        event, target = unpack(item)
        if not isinstance(target, PushTarget):
            raise AttemptRejected(f"not a push target: {target}")
        devices = await self._devices.of(target.user)
        if not devices:
            raise AttemptRejected(f"user {target.user} has no registered devices")
        done_key = f"push:done:{item.id}"
        raw = await self._store.get(done_key)
        done: dict[str, str] = json.loads(raw) if raw else {}
        todo = [d for d in devices if d.id not in done]
        outcomes: dict[Device, Outcome] = {}
        try:
            await self._send(todo, for_push(event), outcomes)
        finally:
            # Whatever went out is recorded, even when the attempt is cut off
            # (its time limit, a shutdown): a retry never sends it again.
            with trio.CancelScope(shield=True), trio.move_on_after(_RECORD_S):
                await self._record(target.user, done_key, done, outcomes)
        later = [o for o in outcomes.values() if isinstance(o, Later)]
        summary = {state: list(done.values()).count(state) for state in ("sent", "gone", "refused")}
        if later:
            waits = [x.retry_after_s for x in later if x.retry_after_s is not None]
            raise AttemptFailed(
                f"{len(later)} of {len(devices)} devices: {later[0].reason}",
                retry_after_s=max(waits) if waits else None,
            )
        if not summary["sent"]:
            reasons = [o.reason for o in outcomes.values() if isinstance(o, (Gone, Refused))]
            raise AttemptRejected(f"no device took it: {reasons[0] if reasons else 'none left'}")
        return Delivered(response=json.dumps(summary).encode())

    async def _record(
        self, user: str, done_key: str, done: dict[str, str], outcomes: dict[Device, Outcome]
    ) -> None:
        """Which devices are done for this item; dead tokens removed; Expo's tickets
        queued for their receipts."""
        tickets: dict[str, list[str]] = {}
        for device, outcome in outcomes.items():
            if isinstance(outcome, Later):
                continue
            if isinstance(outcome, Gone):
                try:
                    await self._devices.gone(user, device)
                except StoreError:  # LockBusy among them
                    log.warning("push: a dead token of user %s stays for now", user)
            if isinstance(outcome, Sent) and outcome.ticket:
                tickets[outcome.ticket] = [user, device.id]
            done[device.id] = type(outcome).__name__.lower()
        await self._store.put(done_key, json.dumps(done).encode(), ttl_s=_DONE_TTL_S)
        if tickets:
            check = msgspec.json.encode(ReceiptCheck(tickets))
            due = self._clock() + self.receipt_delay_s
            await self._store.enqueue(
                queue_name(NAMESPACE, PUSH_RECEIPTS), NewItem(check, not_before=due)
            )

    async def _send(
        self, devices: list[Device], note: dict[str, object], outcomes: dict[Device, Outcome]
    ) -> None:
        """Each device's outcome into ``outcomes`` as it comes."""
        fcm = [d for d in devices if d.platform == "fcm"]
        expo = [d for d in devices if d.platform == "expo"]
        for device in fcm if self._fcm is None else []:
            outcomes[device] = Refused("FCM is not configured")
        for device in expo if self._expo is None else []:
            outcomes[device] = Refused("Expo is not configured")
        limit = trio.CapacityLimiter(_FCM_AT_ONCE)

        async def one(device: Device, sender: FcmSender) -> None:
            async with limit:
                outcomes[device] = await sender.send(device.token, dict(note))

        async def batch(chunk: list[Device], sender: ExpoSender) -> None:
            answers = await sender.send([d.token for d in chunk], dict(note))
            outcomes.update(zip(chunk, answers, strict=True))

        async with trio.open_nursery() as nursery:
            if self._fcm is not None:
                for device in fcm:
                    nursery.start_soon(one, device, self._fcm)
            if self._expo is not None:
                for at in range(0, len(expo), EXPO_BATCH):
                    nursery.start_soon(batch, expo[at : at + EXPO_BATCH], self._expo)

    async def aclose(self) -> None:
        for sender in (self._fcm, self._expo):
            if sender is not None:
                await sender.aclose()


class ExpoReceipts:
    """Looks up queued Expo tickets; removes the tokens whose receipt says the device is gone.

    Receipts Expo does not have yet make the attempt fail, so the check is
    tried again on the channel's schedule (Expo keeps them for a day).
    """

    def __init__(self, devices: Devices, expo: ExpoSender | None) -> None:
        self._devices = devices
        self._expo = expo

    async def deliver(self, item: QueueItem) -> Delivered:
        if self._expo is None:
            raise AttemptRejected("Expo is not configured")
        check = msgspec.json.decode(item.payload, type=ReceiptCheck)
        receipts = await self._expo.receipts(list(check.tickets))
        gone = 0
        for ticket, (user, device_id) in check.tickets.items():
            receipt = receipts.get(ticket) or {}
            if (receipt.get("details") or {}).get("error") == "DeviceNotRegistered":
                devices = {d.id: d for d in await self._devices.of(user)}
                if device_id in devices:
                    await self._devices.gone(user, devices[device_id])  # LockBusy: retried
                    gone += 1
        missing = [t for t in check.tickets if t not in receipts]
        if missing:
            raise AttemptFailed(f"expo has no receipt yet for {len(missing)} tickets")
        return Delivered(response=json.dumps({"receipts": len(receipts), "gone": gone}).encode())

    async def aclose(self) -> None:
        if self._expo is not None:
            await self._expo.aclose()
