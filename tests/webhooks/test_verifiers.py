"""Signature verifiers against the providers' published vectors and their own libraries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
import stripe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

from olactors.webhooks import BadSignature, MalformedWebhook, StaleTimestamp
from olactors.webhooks.verifiers import (
    AbacatePayVerifier,
    SendGridVerifier,
    StandardVerifier,
    StripeVerifier,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# -- Stripe ------------------------------------------------------------------------------

STRIPE = load("stripe_dotnet_vector.json")
STRIPE_BODY = (FIXTURES / STRIPE["payload_file"]).read_bytes()


def stripe_headers(header: str) -> dict[str, str]:
    return {"stripe-signature": header}


def test_stripe_accepts_the_published_vector_within_tolerance() -> None:
    verifier = StripeVerifier([STRIPE["secret"]])
    now = STRIPE["sdk_test_tolerances"]["accepts_when_now_is"]
    verifier.verify(stripe_headers(STRIPE["stripe_signature_header"]), {}, STRIPE_BODY, now)


def test_stripe_refuses_a_timestamp_older_than_the_tolerance() -> None:
    verifier = StripeVerifier([STRIPE["secret"]])
    now = STRIPE["sdk_test_tolerances"]["rejects_when_now_is"] + 1
    with pytest.raises(StaleTimestamp):
        verifier.verify(stripe_headers(STRIPE["stripe_signature_header"]), {}, STRIPE_BODY, now)


def test_stripe_refuses_a_timestamp_too_far_in_the_future() -> None:
    verifier = StripeVerifier([STRIPE["secret"]])
    with pytest.raises(StaleTimestamp):
        verifier.verify(
            stripe_headers(STRIPE["stripe_signature_header"]),
            {},
            STRIPE_BODY,
            STRIPE["timestamp"] - 301,
        )


def test_stripe_refuses_a_changed_body() -> None:
    verifier = StripeVerifier([STRIPE["secret"]])
    with pytest.raises(BadSignature):
        verifier.verify(
            stripe_headers(STRIPE["stripe_signature_header"]),
            {},
            STRIPE_BODY + b"this_changes_the_json",
            STRIPE["timestamp"],
        )


def test_stripe_accepts_any_configured_secret_during_a_rotation() -> None:
    verifier = StripeVerifier(["whsec_old", STRIPE["secret"]])
    verifier.verify(
        stripe_headers(STRIPE["stripe_signature_header"]), {}, STRIPE_BODY, STRIPE["timestamp"]
    )


@pytest.mark.parametrize("header", ["", "t=1533204620", "v1=abc", "nonsense"])
def test_stripe_refuses_a_malformed_header(header: str) -> None:
    with pytest.raises(MalformedWebhook):
        StripeVerifier(["whsec_xStripeSecret0123456789abcdef"]).verify(
            stripe_headers(header), {}, b"{}", 0
        )


def test_stripe_agrees_with_stripe_python_on_a_header_it_signs() -> None:
    secret, body, now = "whsec_test_secret", b'{"id":"evt_1","object":"event"}', int(time.time())
    signature = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    header = f"t={now},v1=deadbeef,v1={signature}"
    assert stripe.WebhookSignature.verify_header(body.decode(), header, secret, tolerance=300)
    StripeVerifier([secret]).verify(stripe_headers(header), {}, body, now)


# -- Standard Webhooks ---------------------------------------------------------------

STANDARD = load("sign_vector.json")


def test_standard_accepts_the_official_vector() -> None:
    StandardVerifier([STANDARD["secret"]]).verify(
        STANDARD["headers"], {}, STANDARD["payload"].encode(), STANDARD["timestamp"]
    )


def test_standard_accepts_headers_signed_by_the_standardwebhooks_library() -> None:
    signer = standardwebhooks.Webhook(STANDARD["secret"])
    now = int(time.time())
    body = b'{"type":"invoice.paid","data":{"id":"in_1"}}'
    signature = signer.sign("msg_1", _datetime(now), body.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": signature}
    StandardVerifier([STANDARD["secret"]]).verify(headers, {}, body, now)


def test_standard_accepts_one_good_signature_among_several() -> None:
    cases = load("negative_and_multisig_cases.json")
    headers = dict(STANDARD["headers"])
    headers["webhook-signature"] = cases["multi_signature_header_template"].replace(
        "<VALID v1 SIG>", STANDARD["expected_signature"]
    )
    StandardVerifier([STANDARD["secret"]]).verify(
        headers, {}, STANDARD["payload"].encode(), STANDARD["timestamp"]
    )


@pytest.mark.parametrize(
    "value", load("negative_and_multisig_cases.json")["invalid_signature_values"]
)
def test_standard_refuses_the_specs_invalid_signatures(value: str) -> None:
    headers = {**STANDARD["headers"], "webhook-signature": value}
    with pytest.raises(BadSignature):
        StandardVerifier([STANDARD["secret"]]).verify(
            headers, {}, STANDARD["payload"].encode(), STANDARD["timestamp"]
        )


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_refuses_a_request_missing_a_header(missing: str) -> None:
    headers = {k: v for k, v in STANDARD["headers"].items() if k != missing}
    with pytest.raises(MalformedWebhook):
        StandardVerifier([STANDARD["secret"]]).verify(
            headers, {}, STANDARD["payload"].encode(), STANDARD["timestamp"]
        )


def test_standard_refuses_a_non_numeric_timestamp() -> None:
    headers = {**STANDARD["headers"], "webhook-timestamp": "hello"}
    with pytest.raises(MalformedWebhook):
        StandardVerifier([STANDARD["secret"]]).verify(headers, {}, b"{}", STANDARD["timestamp"])


# -- SendGrid ------------------------------------------------------------------------

SENDGRID = load("sendgrid_vectors.json")


@pytest.mark.parametrize("vector", SENDGRID["vectors"], ids=lambda v: v["name"])
def test_sendgrid_accepts_the_published_vectors(vector: dict[str, Any]) -> None:
    body = (FIXTURES / vector["body_file"]).read_bytes()
    headers = {
        "x-twilio-email-event-webhook-signature": vector["signature"],
        "x-twilio-email-event-webhook-timestamp": vector["timestamp"],
    }
    SendGridVerifier(vector["public_key"]).verify(headers, {}, body, int(vector["timestamp"]))


def test_sendgrid_refuses_a_changed_body() -> None:
    vector = SENDGRID["vectors"][0]
    body = (FIXTURES / vector["body_file"]).read_bytes().replace(b"dropped", b"delivered")
    headers = {
        "x-twilio-email-event-webhook-signature": vector["signature"],
        "x-twilio-email-event-webhook-timestamp": vector["timestamp"],
    }
    with pytest.raises(BadSignature):
        SendGridVerifier(vector["public_key"]).verify(headers, {}, body, int(vector["timestamp"]))


def test_sendgrid_agrees_with_the_sendgrid_helper_on_a_fresh_signature() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    now = str(int(time.time()))
    body = b'[{"email":"a@b.c","event":"delivered","sg_event_id":"e1","timestamp":1}]'
    signature = base64.b64encode(private.sign(now.encode() + body, ec.ECDSA(hashes.SHA256())))
    helper = EventWebhook()
    assert helper.verify_signature(
        body.decode(), signature.decode(), now, helper.convert_public_key_to_ecdsa(public)
    )
    headers = {
        "x-twilio-email-event-webhook-signature": signature.decode(),
        "x-twilio-email-event-webhook-timestamp": now,
    }
    SendGridVerifier(public).verify(headers, {}, body, int(now))


# -- AbacatePay ----------------------------------------------------------------------

ABACATE = load("abacatepay_vector.json")
ABACATE_KEY = (FIXTURES / "hmac_public_key.txt").read_text().strip()
ABACATE_BODY = (FIXTURES / "billing_paid_v1.body").read_bytes()


def test_abacatepay_accepts_the_secret_in_the_query_and_a_good_signature() -> None:
    headers = {"x-webhook-signature": ABACATE["x_webhook_signature"]}
    AbacatePayVerifier(["s3cret"], ABACATE_KEY).verify(
        headers, {"webhookSecret": "s3cret"}, ABACATE_BODY, 0
    )


def test_abacatepay_accepts_the_secret_in_its_header() -> None:
    headers = {"x-webhook-signature": ABACATE["x_webhook_signature"], "x-webhook-secret": "s3cret"}
    AbacatePayVerifier(["s3cret"], ABACATE_KEY).verify(headers, {}, ABACATE_BODY, 0)


def test_abacatepay_refuses_a_wrong_secret_even_with_a_good_signature() -> None:
    headers = {"x-webhook-signature": ABACATE["x_webhook_signature"]}
    with pytest.raises(BadSignature):
        AbacatePayVerifier(["s3cret"], ABACATE_KEY).verify(
            headers, {"webhookSecret": "guess"}, ABACATE_BODY, 0
        )


def test_abacatepay_refuses_a_changed_body() -> None:
    headers = {"x-webhook-signature": ABACATE["x_webhook_signature"]}
    with pytest.raises(BadSignature):
        AbacatePayVerifier(["s3cret"], ABACATE_KEY).verify(
            headers, {"webhookSecret": "s3cret"}, ABACATE_BODY + b" ", 0
        )


def _datetime(unix: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix, tz=UTC)


#: When the parametrized Stripe signature below says it was made.
SIGNED_AT = 1_700_000_000


@pytest.mark.parametrize(
    ("verifier", "headers", "query"),
    [
        (
            StripeVerifier(["whsec_xStripeSecret0123456789abcdef"]),
            {"stripe-signature": f"t={SIGNED_AT},v1=\xe9"},
            {},
        ),
        (
            StandardVerifier([STANDARD["secret"]]),
            {**STANDARD["headers"], "webhook-signature": "v1,\xe9"},
            {},
        ),
        (AbacatePayVerifier(["s"], "k"), {"x-webhook-signature": "\xe9"}, {"webhookSecret": "s"}),
        (AbacatePayVerifier(["s"], "k"), {"x-webhook-signature": "x"}, {"webhookSecret": "\xe9"}),
    ],
)
def test_a_signature_with_non_ascii_characters_is_a_bad_signature_not_a_crash(
    verifier: Any, headers: dict[str, str], query: dict[str, str]
) -> None:
    # The clock is the signature's own: collection may come minutes before the run.
    now = STANDARD["timestamp"] if "webhook-id" in headers else SIGNED_AT
    with pytest.raises(BadSignature):
        verifier.verify(headers, query, b"{}", now)


def test_an_absurd_timestamp_is_malformed_not_a_crash() -> None:
    header = "t=1" + "0" * 400 + ",v1=00"
    with pytest.raises(MalformedWebhook):
        StripeVerifier(["whsec_xStripeSecret0123456789abcdef"]).verify(
            {"stripe-signature": header}, {}, b"{}", time.time()
        )


def abacate_signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(ABACATE_KEY.encode(), body, hashlib.sha256).digest()
    return {"x-webhook-signature": base64.b64encode(digest).decode(), "x-webhook-secret": "s3cret"}


V2_BODY = json.dumps(
    {
        "event": "checkout.completed",
        "apiVersion": 2,
        "devMode": False,
        "data": {"checkout": {"id": "bill_1", "updatedAt": "2024-12-06T18:56:20.000Z"}},
    }
).encode()
V2_UPDATED = 1733511380.0  # 2024-12-06T18:56:20Z


def test_abacatepay_refuses_an_event_replayed_after_the_dedup_window() -> None:
    verifier = AbacatePayVerifier(["s3cret"], ABACATE_KEY, max_age_s=7 * 86400)
    with pytest.raises(StaleTimestamp, match="replay window"):
        verifier.verify(abacate_signed(V2_BODY), {}, V2_BODY, V2_UPDATED + 8 * 86400)


def test_abacatepay_accepts_an_event_updated_within_the_dedup_window() -> None:
    verifier = AbacatePayVerifier(["s3cret"], ABACATE_KEY, max_age_s=7 * 86400)
    verifier.verify(abacate_signed(V2_BODY), {}, V2_BODY, V2_UPDATED + 86400)


def test_abacatepay_v1_events_without_an_update_time_rely_on_dedup_alone() -> None:
    verifier = AbacatePayVerifier(["s3cret"], ABACATE_KEY, max_age_s=60)
    headers = {"x-webhook-signature": ABACATE["x_webhook_signature"], "x-webhook-secret": "s3cret"}
    verifier.verify(headers, {}, ABACATE_BODY, 2e9)
