"""The broadcast capability's share of the app API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from ..api import ApiPart, Operations
from ..config import Config
from ..runtime import ActorContext
from ..store import Store
from ..times import iso_utc
from ._model import Topic, User
from ._tokens import SubscriberTokens, token_key


def token_request(max_ttl_s: float) -> type[msgspec.Struct]:
    """What a subscriber token allows: topics, for ``ttl_s`` seconds (at most ``max_ttl_s``,
    from the config, so the schema says the limit the daemon holds to)."""
    return msgspec.defstruct(
        "TokenRequest",
        [
            ("topics", Annotated[list[Topic], msgspec.Meta(min_length=1, max_length=100)]),
            ("ttl_s", Annotated[float, msgspec.Meta(gt=0, le=max_ttl_s)], min(3600.0, max_ttl_s)),
        ],
        frozen=True,
        forbid_unknown_fields=True,
    )


class TokenAnswer(msgspec.Struct, frozen=True):
    token: str
    expires_at: str  #: ISO 8601, UTC


def token_part(config: Config, env: Mapping[str, str]) -> ApiPart:
    """``POST /v1/subscribers/{user}/tokens``. The token key is read now: a daemon
    that could not sign tokens fails at start."""
    key = token_key(config, env)
    request_type = token_request(config.broadcast.max_token_ttl_s)

    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        tokens = SubscriberTokens(key(), context.clock)

        @operations.add(
            "POST",
            "/v1/subscribers/<user>/tokens",
            summary="Mint a short-lived token a websocket client subscribes with",
            body=request_type,
            response=TokenAnswer,
            status=201,
            tag="broadcast",
            params={"user": User},
        )
        async def mint_subscriber_token(body: Any, query: None, user: str) -> TokenAnswer:
            token, expires = tokens.mint(user, list(dict.fromkeys(body.topics)), body.ttl_s)
            return TokenAnswer(token, iso_utc(expires))

    return part
