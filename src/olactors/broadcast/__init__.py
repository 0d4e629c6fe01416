"""Broadcasting the app's domain events to websocket clients, webhooks, phones and inboxes."""

from ._api import TokenAnswer, token_request
from ._hub import Leave, Listener, Publish, Remote, Subscribe, Unsubscribe, WebsocketHub
from ._model import NAMESPACE as BROADCAST_NAMESPACE
from ._paths import BROADCAST_PATH, WEBSOCKET_HUB, channel_courier
from ._socket import SocketSettings, SubscriberSocket
from ._ssrf import UnsafeEndpoint, guarded_transport, is_public
from ._tokens import (
    KEY_FILE,
    InvalidToken,
    SubscriberClaims,
    SubscriberTokens,
    token_key,
)
from ._tree import Emit, broadcast_api, broadcast_mount, broadcast_spec, domain_events

__all__ = [
    "BROADCAST_NAMESPACE",
    "BROADCAST_PATH",
    "KEY_FILE",
    "WEBSOCKET_HUB",
    "Emit",
    "InvalidToken",
    "Leave",
    "Listener",
    "Publish",
    "Remote",
    "SocketSettings",
    "Subscribe",
    "SubscriberClaims",
    "SubscriberSocket",
    "SubscriberTokens",
    "TokenAnswer",
    "UnsafeEndpoint",
    "Unsubscribe",
    "WebsocketHub",
    "broadcast_api",
    "broadcast_mount",
    "broadcast_spec",
    "channel_courier",
    "domain_events",
    "guarded_transport",
    "is_public",
    "token_key",
    "token_request",
]
