"""Broadcasting the app's domain events to websocket clients, webhooks, phones and inboxes."""

from ._api import TokenAnswer, broadcast_api, token_request
from ._hub import Leave, Listener, Publish, Subscribe, Unsubscribe, WebsocketHub
from ._socket import SocketSettings, SubscriberSocket
from ._tokens import (
    KEY_FILE,
    InvalidToken,
    SubscriberClaims,
    SubscriberTokens,
    token_key,
)
from ._tree import BROADCAST_PATH, WEBSOCKET_HUB, broadcast_mount, broadcast_spec

__all__ = [
    "BROADCAST_PATH",
    "KEY_FILE",
    "WEBSOCKET_HUB",
    "InvalidToken",
    "Leave",
    "Listener",
    "Publish",
    "SocketSettings",
    "Subscribe",
    "SubscriberClaims",
    "SubscriberSocket",
    "SubscriberTokens",
    "TokenAnswer",
    "Unsubscribe",
    "WebsocketHub",
    "broadcast_api",
    "broadcast_mount",
    "broadcast_spec",
    "token_key",
    "token_request",
]
