"""The broadcast subtree (``/root/broadcast/<channel>``) and its share of the public listener."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from ..config import Config
from ..http import Mount
from ..runtime import ActorContext, ActorSpec, SupervisorSpec
from ._hub import WebsocketHub
from ._socket import SocketSettings, SubscriberSocket
from ._tokens import SubscriberTokens, token_key

#: Where the broadcast subtree sits in the daemon's tree.
BROADCAST_PATH = "/root/broadcast"
WEBSOCKET_HUB = f"{BROADCAST_PATH}/websocket"


def broadcast_spec(config: Config, supervised: Mapping[str, Any]) -> SupervisorSpec:
    """One actor per channel (the websocket hub first; webhook, push, email join it)."""
    settings = config.broadcast
    return SupervisorSpec(
        "broadcast",
        children=[
            ActorSpec(
                "websocket",
                lambda: WebsocketHub(
                    history_size=settings.history_size, history_ttl_s=settings.history_ttl_s
                ),
            )
        ],
        **supervised,
    )


def broadcast_mount(config: Config, env: Mapping[str, str]) -> Mount:
    """``/ws`` on the public listener: subscribers connect there with the app's tokens."""
    key = token_key(config, env)
    settings = config.broadcast
    socket = SocketSettings(
        send_buffer=settings.send_buffer,
        heartbeat_s=settings.heartbeat_s,
        connect_timeout_s=settings.connect_timeout_s,
    )

    def app(context: ActorContext, closing: trio.Event) -> SubscriberSocket:
        tokens = SubscriberTokens(key(), context.clock)
        hub = context.actor_ref(WEBSOCKET_HUB)
        return SubscriberSocket(tokens, hub, socket, context.clock, closing)

    return Mount("/ws", app)
