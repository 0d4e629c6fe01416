"""What every verifier shares: the contract, and the timestamp window."""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from typing import Protocol

from .._errors import MalformedWebhook, StaleTimestamp


class Verifier(Protocol):
    """Checks that a request body was signed by the provider.

    ``headers`` has lower-case names; ``body`` is the exact raw bytes (never
    re-serialised JSON); ``now`` is unix time. Raises a ``WebhookError``;
    returns nothing when the request is genuine. Every comparison of secret
    material is constant-time.

    ``precheck`` runs before the body is read, on what the headers and the
    query already tell (the signature headers are there, the timestamp is
    within tolerance): a request that cannot pass is refused without
    spending a byte of memory or a second of a connection on its body.
    ``verify`` does the whole check, the precheck included.
    """

    def precheck(
        self, headers: Mapping[str, str], query: Mapping[str, str], now: float
    ) -> None: ...

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None: ...


def header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise MalformedWebhook(f"missing {name} header")
    return value


_UNIX_TIME = re.compile(r"[0-9]{1,12}")


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings, whatever characters ``given`` holds
    (``hmac.compare_digest`` refuses non-ASCII ``str``; bytes it compares)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def check_timestamp(value: str, now: float, tolerance_s: float) -> int:
    """The signed unix timestamp, if within ``tolerance_s`` of ``now`` both ways."""
    if not _UNIX_TIME.fullmatch(value):
        raise MalformedWebhook(f"timestamp {value[:32]!r} is not a unix time")
    timestamp = int(value)
    if not math.isfinite(now) or abs(now - timestamp) > tolerance_s:
        raise StaleTimestamp(f"signed at {timestamp}, outside {tolerance_s:g} s of now")
    return timestamp
