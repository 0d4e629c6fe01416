"""Whatever arrives, a verifier answers with a WebhookError or accepts: it never crashes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from olactors.webhooks import WebhookError
from olactors.webhooks.verifiers import (
    AbacatePayVerifier,
    SendGridVerifier,
    StandardVerifier,
    StripeVerifier,
    Verifier,
)

from .test_bad_input import HEADER_NAMES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SENDGRID_KEY = json.loads((FIXTURES / "sendgrid_vectors.json").read_text())["vectors"][1][
    "public_key"
]
ABACATE_KEY = (FIXTURES / "hmac_public_key.txt").read_text().strip()
ABACATE_SECRET = "abacate-secret-0123456789abcdef"

VERIFIERS: dict[str, Verifier] = {
    "stripe": StripeVerifier(["whsec_fuzzSecret0123456789abcdefXYZ"]),
    "standard": StandardVerifier(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]),
    "sendgrid": SendGridVerifier(SENDGRID_KEY),
    "abacatepay": AbacatePayVerifier([ABACATE_SECRET], ABACATE_KEY, max_age_s=60),
}
# Header values as a server hands them over: latin-1 text, with the shapes the
# schemes expect mixed in (so parsing goes past the first check).
VALUES = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=255), max_size=80),
    st.sampled_from(
        [
            "t=1700000000,v1=00",
            "t=" + "9" * 400 + ",v1=ab",
            "v1,AAAA v1,====",
            "1700000000",
            "MEUCIQD" + "A" * 60,
            "abacate-secret-0123456789abcdef",
        ]
    ),
)
JSONISH: Any = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(["2024-12-06T18:56:20.000Z", "99999-01-01", "2024-12-06", "nan"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["updatedAt", "checkout", "x", "id"]), inner, max_size=3),
    ),
    max_leaves=10,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b'{"data":{"x":{"updatedAt":"2024-12-06T18:56:20.000Z"}}}',
            b'{"data":{"x":{"updatedAt":"99999-01-01"}}}',
            b'{"data":[1,2]}',
            b"[" * 5000,
        ]
    ),
)


@pytest.mark.parametrize("kind", sorted(VERIFIERS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), VALUES, max_size=5),
    query=st.dictionaries(st.sampled_from(["webhookSecret", "x"]), VALUES, max_size=2),
    body=BODIES,
    now=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1_700_000_000.0)),
)
def test_a_verifier_refuses_with_a_webhook_error_or_accepts(
    kind: str, headers: dict[str, str], query: dict[str, str], body: bytes, now: float
) -> None:
    verifier = VERIFIERS[kind]
    for check in (
        lambda: verifier.precheck(headers, query, now),
        lambda: verifier.verify(headers, query, body, now),
    ):
        with contextlib.suppress(WebhookError):
            check()


@settings(max_examples=300, deadline=None)
@given(data=JSONISH, now=st.floats(allow_nan=True, allow_infinity=True))
def test_a_signed_abacatepay_body_of_any_shape_is_accepted_or_refused_as_stale(
    data: object, now: float
) -> None:
    # The HMAC key is public: whoever has the secret signs any body, so what
    # follows the signature (the replay check) must hold for any JSON too.
    body = json.dumps({"event": "x", "data": data}).encode()
    signature = base64.b64encode(hmac.new(ABACATE_KEY.encode(), body, hashlib.sha256).digest())
    headers = {"x-webhook-signature": signature.decode(), "x-webhook-secret": ABACATE_SECRET}
    with contextlib.suppress(WebhookError):
        VERIFIERS["abacatepay"].verify(headers, {}, body, now)


def test_a_signed_abacatepay_body_nested_past_the_parsers_depth_is_not_a_crash() -> None:
    body = b'{"data":' + b"[" * 5000 + b"]" * 5000 + b"}"
    signature = base64.b64encode(hmac.new(ABACATE_KEY.encode(), body, hashlib.sha256).digest())
    headers = {"x-webhook-signature": signature.decode(), "x-webhook-secret": ABACATE_SECRET}
    VERIFIERS["abacatepay"].verify(headers, {}, body, 1_700_000_000.0)
