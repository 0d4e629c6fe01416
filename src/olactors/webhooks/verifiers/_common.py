"""What every verifier shares: the contract, and the timestamp window."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from .._errors import MalformedWebhook, StaleTimestamp


class Verifier(Protocol):
    """Checks that a request body was signed by the provider.

    ``headers`` has lower-case names; ``body`` is the exact raw bytes (never
    re-serialised JSON); ``now`` is unix time. Raises a ``WebhookError``;
    returns nothing when the request is genuine. Every comparison of secret
    material is constant-time.
    """

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None: ...


def header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise MalformedWebhook(f"missing {name} header")
    return value


def check_timestamp(value: str, now: float, tolerance_s: float) -> int:
    """The signed unix timestamp, if within ``tolerance_s`` of ``now`` both ways."""
    try:
        timestamp = int(value)
    except ValueError:
        raise MalformedWebhook(f"timestamp {value[:32]!r} is not a unix time") from None
    if not math.isfinite(now) or abs(now - timestamp) > tolerance_s:
        raise StaleTimestamp(f"signed at {timestamp}, outside {tolerance_s:g} s of now")
    return timestamp
