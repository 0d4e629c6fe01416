"""Stripe-Signature: ``t=<ts>,v1=<hex>[,v1=<hex>...]``, HMAC-SHA256 of ``"{t}.{body}"``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from .._errors import BadSignature, MalformedWebhook
from ._common import check_timestamp, header, same


class StripeVerifier:
    """Keyed by the whole ``whsec_...`` string. Any ``v1`` signed with any
    configured secret passes, so secrets can be rotated without downtime."""

    def __init__(self, secrets: Sequence[str], *, tolerance_s: float = 300.0) -> None:
        if not secrets:
            raise ValueError("a Stripe source needs at least one signing secret")
        self._keys = [s.encode() for s in secrets]
        self.tolerance_s = tolerance_s

    def precheck(self, headers: Mapping[str, str], query: Mapping[str, str], now: float) -> None:
        timestamp, _ = _parse(header(headers, "stripe-signature"))
        check_timestamp(timestamp, now, self.tolerance_s)

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None:
        timestamp, signatures = _parse(header(headers, "stripe-signature"))
        check_timestamp(timestamp, now, self.tolerance_s)
        signed = timestamp.encode() + b"." + body
        for key in self._keys:
            expected = hmac.new(key, signed, hashlib.sha256).hexdigest()
            # Every candidate is compared, so timing says nothing of which matched.
            if any(same(s, expected) for s in signatures):
                return
        raise BadSignature("no v1 signature matches a configured secret")


#: Stripe's secrets are ``whsec_`` and 32 (dashboard) or 64 (CLI) characters;
#: fewer than this is a truncated paste or a placeholder.
MIN_SECRET_CHARS = 24


def check_secret_format(secret: str) -> None:
    """ValueError (naming no secret) unless ``secret`` looks like a Stripe signing secret."""
    body = secret.removeprefix("whsec_")
    if body == secret or len(body) < MIN_SECRET_CHARS or not body.isascii() or not body.isalnum():
        raise ValueError(
            f"a Stripe signing secret is whsec_ and at least {MIN_SECRET_CHARS} letters or digits"
        )


def _parse(value: str) -> tuple[str, list[str]]:
    timestamp = None
    signatures: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t":
            timestamp = item
        elif key == "v1":
            signatures.append(item)
    if timestamp is None or not signatures:
        raise MalformedWebhook("Stripe-Signature needs t= and at least one v1=")
    return timestamp, signatures


def sign(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The header Stripe would send ``body`` with, for ``olactors trigger`` and tests."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"Stripe-Signature": f"t={timestamp},v1={mac.hexdigest()}"}
