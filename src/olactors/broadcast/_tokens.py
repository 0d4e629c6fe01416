"""Subscriber tokens: what a websocket client shows to subscribe, minted by the app.

A token says who (``user``), which topics, and until when, signed with
HMAC-SHA256 under the daemon's subscriber key: a replica checks one with no
lookup. ``st1.<claims>.<mac>``, both parts base64url; the claims are JSON,
readable by anyone who holds the token (they hold no secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

import msgspec

from .. import bearer
from ..config import Config, ConfigError
from ..runtime import Clock

PREFIX = "st1"
KEY_FILE = "subscriber.key"
MIN_KEY_CHARS = 32
#: What a topic looks like: ``user:42``, ``orders.eu``, ``room-7``.
TOPIC = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


class InvalidToken(Exception):
    """Not one of our tokens, altered, or expired; the message says which (never the key)."""


class SubscriberClaims(msgspec.Struct, frozen=True):
    user: str
    topics: list[str]
    expires_at: float  #: unix time


class SubscriberTokens:
    def __init__(self, key: bytes, clock: Clock) -> None:
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(f"a subscriber token key has at least {MIN_KEY_CHARS} bytes")
        self._key = key
        self._clock = clock

    def mint(self, user: str, topics: list[str], ttl_s: float) -> tuple[str, float]:
        """A token for ``user`` to subscribe to ``topics``, and when it expires."""
        claims = SubscriberClaims(user, topics, self._clock() + ttl_s)
        body = _b64(msgspec.json.encode(claims))
        return f"{PREFIX}.{body}.{self._sign(body)}", claims.expires_at

    def verify(self, token: str) -> SubscriberClaims:
        """The claims of a token we signed that has not expired; InvalidToken otherwise."""
        prefix, _, rest = token.partition(".")
        body, _, mac = rest.partition(".")
        if prefix != PREFIX or not body or not mac:
            raise InvalidToken("not a subscriber token")
        if not hmac.compare_digest(mac.encode(), self._sign(body).encode()):
            raise InvalidToken("the token's signature does not match")
        try:
            claims = msgspec.json.decode(_unb64(body), type=SubscriberClaims)
        except (msgspec.DecodeError, ValueError):
            raise InvalidToken("the token's claims do not parse") from None
        if claims.expires_at <= self._clock():
            raise InvalidToken("the token has expired")
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_key(config: Config, env: Mapping[str, str]) -> Callable[[], bytes]:
    """What gives the key: the one in ``broadcast.token_key_env``, or (sqlite only) the
    one generated into the state directory when first asked for (at the listener's
    start, not when the tree is built). ConfigError now if there can be none."""
    variable = config.broadcast.token_key_env
    value = env.get(variable)
    if value:
        what = "a subscriber token key"
        return bearer.checked(variable, value, what, min_chars=MIN_KEY_CHARS).encode
    if config.store.shared:
        raise ConfigError(
            f"broadcast.token_key_env names {variable}, which is not set: replicas sharing "
            "a store must sign subscriber tokens with one key"
        )
    state_dir = config.daemon.state_dir
    return lambda: bearer.generated(
        state_dir, KEY_FILE, "subscriber token key", min_chars=MIN_KEY_CHARS
    ).encode()
