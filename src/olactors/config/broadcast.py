"""``[broadcast]``: domain events from the app to websocket clients, webhooks, phones, inboxes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ._base import Section


class BroadcastConfig(Section):
    #: The variable holding the key subscriber tokens are signed with (32+
    #: characters). Unset with the sqlite store: generated into
    #: <state_dir>/subscriber.key. Replicas on Redis must share one key, so
    #: there the variable is required.
    token_key_env: str = "OLACTORS_SUBSCRIBER_KEY"
    #: The longest a subscriber token may live; the app asks for less per token.
    max_token_ttl_s: float = Field(default=86_400.0, gt=0)
    #: Each websocket topic keeps its last history_size messages, none older
    #: than history_ttl_s, for clients that reconnect with their last offset.
    history_size: int = Field(default=100, ge=0)
    history_ttl_s: float = Field(default=300.0, gt=0)
    #: Frames waiting for one websocket client at most; past it the client is
    #: disconnected (1008, too slow) rather than buffered without limit.
    send_buffer: int = Field(default=256, ge=1)
    #: A ping frame goes to each idle client this often (keeps proxies open).
    heartbeat_s: float = Field(default=25.0, gt=0)
    #: A websocket client must send its connect frame within this long.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    #: Webhook endpoints that resolve to loopback, private, link-local or
    #: metadata addresses are refused (SSRF). Only tests and closed networks
    #: turn this on.
    allow_private_endpoints: bool = False
    #: Registered webhook endpoints at most (they are kept in one document).
    max_endpoints: int = Field(default=1000, ge=1, le=10_000)
    #: The sender of email targets (SendGrid's "from"). Unset: the email
    #: channel is off and email targets are refused with a 422.
    email_from: str | None = None
    #: Every attempt at one target (a webhook endpoint, a topic, a user's
    #: devices, an inbox) within this schedule, then it is failed.
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 1800.0, 7200.0], min_length=1
    )
    #: FCM HTTP v1: the Firebase project's service-account JSON (a secret
    #: file, mode 0600; its path relative to the config file). Unset: no FCM.
    fcm_credentials_file: Path | None = None
    #: Expo push (exp.host): on or off. Its optional access token (Expo's
    #: "enhanced security") comes from the variable this names.
    expo: bool = False
    expo_access_token_env: str | None = None
    #: Expo's receipts are looked up this long after sending (Expo: about 15
    #: minutes); a device whose receipt says DeviceNotRegistered is removed.
    expo_receipt_delay_s: float = Field(default=900.0, ge=0)
