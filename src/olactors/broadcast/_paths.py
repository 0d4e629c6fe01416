"""Where the broadcast channels sit in the daemon's tree, and where their couriers are."""

from __future__ import annotations

BROADCAST_PATH = "/root/broadcast"
WEBSOCKET_PATH = f"{BROADCAST_PATH}/websocket"
WEBSOCKET_HUB = f"{WEBSOCKET_PATH}/hub"
WEBHOOK_PATH = f"{BROADCAST_PATH}/webhook"
ENDPOINTS_PATH = f"{WEBHOOK_PATH}/endpoints"

#: Courier names of the channels that have one courier each, and of the
#: courier that looks up Expo's receipts.
WEBSOCKET, EMAIL, PUSH, PUSH_RECEIPTS = "websocket", "email", "push", "push-receipts"
PUSH_PATH = f"{BROADCAST_PATH}/push"


def channel_courier(destination: str) -> str:
    """The path of the courier that delivers ``destination``'s queue (the broadcast
    namespace's destinations are channels, and webhook endpoints ``ep_...``)."""
    if destination.startswith("ep_"):
        return f"{ENDPOINTS_PATH}/{destination}"
    if destination == WEBSOCKET:
        return f"{WEBSOCKET_PATH}/courier"
    if destination == PUSH:
        return f"{PUSH_PATH}/courier"
    if destination == PUSH_RECEIPTS:
        return f"{PUSH_PATH}/receipts"
    return f"{BROADCAST_PATH}/{destination}"
