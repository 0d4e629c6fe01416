"""SendGrid's signed Event Webhook: ECDSA P-256 / SHA-256 over ``timestamp + body``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .._errors import BadSignature, MalformedWebhook
from ._common import check_timestamp, header

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


class SendGridVerifier:
    """The public key is the base64 DER one SendGrid shows for the webhook.

    SendGrid signs no expiry, so a tolerance is added on its timestamp.
    """

    def __init__(self, public_key: str, *, tolerance_s: float = 300.0) -> None:
        key = load_der_public_key(base64.b64decode(public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("a SendGrid verification key is an ECDSA public key")  # noqa: TRY004 -- a bad config value
        self._key = key
        self.tolerance_s = tolerance_s

    def precheck(self, headers: Mapping[str, str], query: Mapping[str, str], now: float) -> None:
        header(headers, SIGNATURE)
        check_timestamp(header(headers, TIMESTAMP), now, self.tolerance_s)

    def verify(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
    ) -> None:
        timestamp = header(headers, TIMESTAMP)
        try:
            signature = base64.b64decode(header(headers, SIGNATURE), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedWebhook("the signature header is not base64") from None
        check_timestamp(timestamp, now, self.tolerance_s)
        try:
            self._key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise BadSignature("the ECDSA signature does not verify") from None


def sign(private_key: ec.EllipticCurvePrivateKey, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers SendGrid would send ``body`` with, signed by ``private_key``.

    Only a key pair of one's own can sign (SendGrid keeps its private key):
    configure the source with that pair's public key to trigger events locally.
    """
    signed = private_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signed).decode(), TIMESTAMP: str(timestamp)}
