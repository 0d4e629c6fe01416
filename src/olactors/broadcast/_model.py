"""What the app asks to broadcast, what is stored, and what it is told afterwards.

One type each for the request, the stored record and the answers: they
validate ``POST /v1/broadcasts``, are kept in the event log as the
broadcast's payload, and make the OpenAPI document.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from ..store import new_item_id
from ._tokens import TOPIC

#: The event log namespace of broadcasts, and of their channels' couriers.
NAMESPACE = "broadcast"

Topic = Annotated[str, msgspec.Meta(pattern=TOPIC.pattern, examples=["user:42"])]
#: Who a token, a device or a push is for: the app's own id of its user.
User = Annotated[str, msgspec.Meta(pattern=TOPIC.pattern, examples=["42"])]
EventType = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", examples=["order.shipped"])
]
#: The app's own id of an event: the same id twice is one broadcast.
EventId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
EndpointId = Annotated[str, msgspec.Meta(pattern=r"^ep_[a-z0-9]{1,40}$", examples=["ep_8f3a"])]
#: An address as SendGrid takes it; SendGrid checks the rest.
Email = Annotated[
    str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$", examples=["ada@example.com"])
]
TemplateId = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,100}$", examples=["d-13b8f94f"])
]
BroadcastId = Annotated[str, msgspec.Meta(pattern=r"^bc_[0-9a-f]{1,64}$")]


class WebsocketTarget(msgspec.Struct, frozen=True, tag_field="channel", tag="websocket"):
    """Every websocket client subscribed to ``topic``, on every replica."""

    topic: Topic


class WebhookTarget(msgspec.Struct, frozen=True, tag_field="channel", tag="webhook"):
    """One registered endpoint; without ``endpoint``, every enabled endpoint whose
    event types take the event (Svix's fan-out), chosen when the broadcast is stored."""

    endpoint: EndpointId | None = None


class PushTarget(msgspec.Struct, frozen=True, tag_field="channel", tag="push"):
    """Every device the user registered (FCM and Expo)."""

    user: User


class EmailTarget(msgspec.Struct, frozen=True, tag_field="channel", tag="email"):
    """One message through SendGrid: its dynamic template with the event's payload."""

    to: Email
    template: TemplateId


Target = WebsocketTarget | WebhookTarget | PushTarget | EmailTarget


class BroadcastEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: EventType
    payload: dict[str, Any]
    id: EventId | None = None
    #: With its offset (or Z): a time without one would be read in some zone.
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class BroadcastRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    event: BroadcastEvent
    targets: Annotated[list[Target], msgspec.Meta(min_length=1, max_length=100)]


class Accepted(msgspec.Struct, frozen=True):
    id: str


class StoredEvent(msgspec.Struct, frozen=True):
    """The event as every channel sees it: its id and time are settled once, here."""

    id: str
    type: str
    payload: dict[str, Any]
    occurred_at: str  #: ISO 8601, UTC


class StoredBroadcast(msgspec.Struct, frozen=True):
    """The broadcast's payload in the event log; target ``i`` is destination ``t<i>``."""

    event: StoredEvent
    targets: list[Target]


class TargetOutcome(msgspec.Struct, frozen=True, omit_defaults=True):
    target: Target
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None = None


class BroadcastStatus(msgspec.Struct, frozen=True):
    """Each target settled like ``Promise.allSettled``: delivered, failed, or still pending."""

    id: str
    event: StoredEvent
    successful: int
    failed: int
    pending: int
    details: list[TargetOutcome]


def broadcast_id(event_id: str | None) -> str:
    """The broadcast's id: from the app's event id when it gave one, so that the same
    event sent twice is stored once; else fresh."""
    if event_id is None:
        return f"bc_{new_item_id()}"
    return "bc_" + hashlib.sha256(event_id.encode()).hexdigest()[:32]


def destination_name(index: int) -> str:
    """Target ``index``'s name in the event log."""
    return f"t{index}"


encode = msgspec.json.encode
decode_stored = msgspec.json.Decoder(StoredBroadcast).decode
