"""Broadcasting the app's domain events to websocket clients, webhooks, phones and inboxes."""

from ._api import TokenAnswer, broadcast_api, token_request
from ._tokens import (
    KEY_FILE,
    InvalidToken,
    SubscriberClaims,
    SubscriberTokens,
    token_key,
)

__all__ = [
    "KEY_FILE",
    "InvalidToken",
    "SubscriberClaims",
    "SubscriberTokens",
    "TokenAnswer",
    "broadcast_api",
    "token_key",
    "token_request",
]
