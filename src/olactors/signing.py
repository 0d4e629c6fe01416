"""Standard Webhooks signatures, both ways: what we verify on the way in and sign on the way out.

The scheme (also what Svix sends): HMAC-SHA256 over ``"{id}.{timestamp}.{body}"``
keyed by the base64-decoded ``whsec_`` secret, sent as ``v1,<base64>`` in the
``webhook-signature`` header beside ``webhook-id`` and ``webhook-timestamp``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 -- a label, not a secret

#: The spec's floor for a secret: shorter keys (``whsec_`` alone is an empty
#: one) would let anybody sign.
MIN_KEY_BYTES = 24


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional).

    ValueError, never naming the secret, unless it is base64 of at least
    :data:`MIN_KEY_BYTES` bytes.
    """
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Standard Webhooks secret is whsec_ followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"a Standard Webhooks secret is whsec_ + base64 of at least {MIN_KEY_BYTES} bytes"
        )
    return key


def signature(key: bytes, message_id: str, timestamp: int | str, body: bytes) -> str:
    """The base64 HMAC of one message (without the ``v1,`` label)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_headers(
    key: bytes | Sequence[bytes], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body``.

    With several keys (a secret being rotated), one signature per key,
    space-separated as the spec allows: a receiver that still has the old
    secret verifies as well as one that has the new.
    """
    keys = [key] if isinstance(key, bytes) else key
    signed = " ".join("v1," + signature(k, message_id, timestamp, body) for k in keys)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signed,
    }
