"""Broadcasting the app's domain events to websocket clients, webhooks, phones and inboxes."""

from ._hub import Publish, Remote
from ._model import NAMESPACE as BROADCAST_NAMESPACE
from ._paths import WEBSOCKET_HUB, channel_courier
from ._ssrf import guarded_transport, is_public
from ._tokens import (
    InvalidToken,
    SubscriberTokens,
)
from ._tree import Emit, broadcast_api, broadcast_mount, broadcast_spec, domain_events

__all__ = [
    "BROADCAST_NAMESPACE",
    "WEBSOCKET_HUB",
    "Emit",
    "InvalidToken",
    "Publish",
    "Remote",
    "SubscriberTokens",
    "broadcast_api",
    "broadcast_mount",
    "broadcast_spec",
    "channel_courier",
    "domain_events",
    "guarded_transport",
    "is_public",
]
