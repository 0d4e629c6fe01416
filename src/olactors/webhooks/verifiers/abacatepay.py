"""AbacatePay: a shared secret proves origin, an HMAC of the body proves integrity."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import msgspec

from .._errors import BadSignature, MalformedWebhook, StaleTimestamp
from ._common import header, same

#: The public HMAC key for X-Webhook-Signature, as AbacatePay's docs publish it.
PUBLIC_KEY = (
    "t9dXRhHHo3yDEj5pVDYz0frf7q6bMKyMRmxxCPIPp3RCplBfXRxqlC6ZpiWmOqj4L63qEaeUOtrCI8P0VMUgo6iIga2"
    "ri9ogaHFs0WIIywSMg0q7RmBfybe1E5XJcfC4IW3alNqym0tXoAKkzvfEjZxV6bE0oG2zJrNNYmUCKZyV0KZ3JS8Vo"
    "tf9EAWWYdiDkMkpbMdPggfh1EqHlVkMiTady6jOR3hyzGEHrIz2Ret0xHKMbiqkr9HS1JhNHDX9"
)

#: The secret is the whole proof of origin: at least a 128-bit random token's length.
MIN_SECRET_CHARS = 24


def check_secret_format(secret: str) -> None:
    """ValueError (naming no secret) unless ``secret`` is long enough to be one."""
    if len(secret) < MIN_SECRET_CHARS or not secret.isprintable() or " " in secret:
        raise ValueError(
            f"an AbacatePay webhook secret has at least {MIN_SECRET_CHARS} printable "
            "characters and no spaces"
        )


class AbacatePayVerifier:
    """``webhookSecret`` (query) or ``X-Webhook-Secret`` (header) must equal a
    configured secret, and ``X-Webhook-Signature`` must be base64(HMAC-SHA256(body))
    keyed by the public key AbacatePay publishes.

    The HMAC key is public, so the static secret is the only proof of origin,
    and nothing is signed with a time. Deduplication refuses a replay while
    it remembers the event; past that, an event whose resources were last
    updated more than ``max_age_s`` ago (their ``updatedAt``, which every v2
    event carries) is refused as stale, so a captured request cannot be
    replayed once its dedup key has expired. Events without an ``updatedAt``
    (v1's ``billing.paid``) have only deduplication.
    """

    def __init__(
        self, secrets: Sequence[str], public_key: str, *, max_age_s: float | None = None
    ) -> None:
        if not secrets or not public_key:
            raise ValueError("an AbacatePay source needs its secret and the public HMAC key")
        self._secrets = [s.encode() for s in secrets]
        self._key = public_key.encode()
        self.max_age_s = max_age_s

    def precheck(self, headers: Mapping[str, str], query: Mapping[str, str], now: float) -> None:
        given = query.get("webhookSecret") or headers.get("x-webhook-secret")
        if not given:
            raise MalformedWebhook("missing webhookSecret query parameter or X-Webhook-Secret")
        # Compare against every secret so the timing says nothing of which one.
        matches = [same(given, s.decode()) for s in self._secrets]
        if not any(matches):
            raise BadSignature("the webhook secret does not match")
        header(headers, "x-webhook-signature")

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None:
        self.precheck(headers, query, now)
        signature = header(headers, "x-webhook-signature")
        expected = base64.b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).decode()
        if not same(signature, expected):
            raise BadSignature("X-Webhook-Signature does not match the body")
        if self.max_age_s is not None:
            updated = _last_updated(body)
            if updated is not None and now - updated > self.max_age_s:
                raise StaleTimestamp(
                    f"last updated {now - updated:.0f} s ago, past the {self.max_age_s:g} s "
                    "replay window"
                )


def _last_updated(body: bytes) -> float | None:
    """The newest ``updatedAt`` of the event's resources (``data.<resource>``), unix time."""
    try:
        data = msgspec.json.decode(body).get("data")
    except (msgspec.DecodeError, AttributeError, RecursionError):
        return None  # the event parser refuses it with a clear error
    if not isinstance(data, dict):
        return None
    times = []
    for resource in data.values():
        value = resource.get("updatedAt") if isinstance(resource, dict) else None
        if isinstance(value, str):
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                continue
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            times.append(stamp.timestamp())
    return max(times, default=None)


def sign(secret: str, public_key: str, body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query AbacatePay would send ``body`` with."""
    mac = hmac.new(public_key.encode(), body, hashlib.sha256).digest()
    return {"X-Webhook-Signature": base64.b64encode(mac).decode()}, {"webhookSecret": secret}
