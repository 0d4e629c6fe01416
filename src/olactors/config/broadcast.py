"""``[broadcast]``: domain events from the app to websocket clients, webhooks, phones, inboxes."""

from __future__ import annotations

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
