"""AbacatePay: a shared secret proves origin, an HMAC of the body proves integrity."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from .._errors import BadSignature, MalformedWebhook
from ._common import header, same

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
    keyed by the public key AbacatePay publishes. AbacatePay sends no
    timestamp: deduplication is the replay guard."""

    def __init__(self, secrets: Sequence[str], public_key: str) -> None:
        if not secrets or not public_key:
            raise ValueError("an AbacatePay source needs its secret and the public HMAC key")
        self._secrets = [s.encode() for s in secrets]
        self._key = public_key.encode()

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None:
        given = query.get("webhookSecret") or headers.get("x-webhook-secret")
        if not given:
            raise MalformedWebhook("missing webhookSecret query parameter or X-Webhook-Secret")
        # Compare against every secret so the timing says nothing of which one.
        matches = [same(given, s.decode()) for s in self._secrets]
        if not any(matches):
            raise BadSignature("the webhook secret does not match")
        signature = header(headers, "x-webhook-signature")
        expected = base64.b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).decode()
        if not same(signature, expected):
            raise BadSignature("X-Webhook-Signature does not match the body")
