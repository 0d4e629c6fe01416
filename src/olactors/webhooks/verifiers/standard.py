"""Standard Webhooks (what Svix sends): webhook-id, webhook-timestamp, webhook-signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...signing import secret_key, signature
from .._errors import BadSignature
from ._common import check_timestamp, header, same


class StandardVerifier:
    """HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` keyed by the base64-decoded secret;
    the header holds space-separated ``v1,<base64>`` signatures, any of which may match."""

    def __init__(self, secrets: Sequence[str], *, tolerance_s: float = 300.0) -> None:
        if not secrets:
            raise ValueError("a Standard Webhooks source needs at least one secret")
        self._keys = [secret_key(s) for s in secrets]
        self.tolerance_s = tolerance_s

    def precheck(self, headers: Mapping[str, str], query: Mapping[str, str], now: float) -> None:
        header(headers, "webhook-id")
        header(headers, "webhook-signature")
        check_timestamp(header(headers, "webhook-timestamp"), now, self.tolerance_s)

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None:
        message_id = header(headers, "webhook-id")
        timestamp = header(headers, "webhook-timestamp")
        signatures = [
            sig.partition(",")[2]
            for sig in header(headers, "webhook-signature").split()
            if sig.startswith("v1,")
        ]
        check_timestamp(timestamp, now, self.tolerance_s)
        for key in self._keys:
            expected = signature(key, message_id, timestamp, body)
            if any(same(s, expected) for s in signatures):
                return
        raise BadSignature("no v1 signature matches a configured secret")
