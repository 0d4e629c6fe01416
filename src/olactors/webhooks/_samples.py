"""Realistic events of each source kind, signed as their provider signs them.

The bodies come from the providers' own documented examples (``samples/``),
with a fresh id and the current time, so each one is a new event that the
source's verifier, replay window and deduplication take as real. What
``olactors trigger`` sends, and what tests can send too.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ..config import SourceConfig, SourceKind
from ..signing import secret_key, sign_headers
from ..times import iso_utc
from ._events import events_of
from .verifiers import abacatepay, sendgrid, stripe


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """One request, ready to post to ``/webhooks/<source>``."""

    event_id: str
    event_type: str
    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


def examples(kind: SourceKind) -> dict[str, Any]:
    """The documented examples of ``kind``, by event type."""
    text = resources.files(__package__).joinpath(f"samples/{kind}.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def signed_event(
    kind: SourceKind,
    source: SourceConfig,
    event_type: str,
    signing_secrets: list[str],
    now: float,
    *,
    sendgrid_key: ec.EllipticCurvePrivateKey | None = None,
) -> SignedEvent:
    """An event of ``event_type`` signed with the first of ``signing_secrets`` (or the key).

    ValueError says why it cannot be made: an event type SendGrid does not
    send, or a SendGrid source without a private key to sign with.
    """
    stamp = int(now)
    query: dict[str, str] = {}
    if kind == "stripe":
        event = _example(kind, event_type, fallback="payment_intent.succeeded")
        event |= {"id": f"evt_{secrets.token_hex(12)}", "type": event_type, "created": stamp}
        body = _encode(event)
        headers = stripe.sign(signing_secrets[0], stamp, body)
    elif kind == "standard":
        event = _example(kind, event_type, fallback="contact.created")
        event |= {"type": event_type, "timestamp": _iso(now)}
        body = _encode(event)
        headers = sign_headers(
            secret_key(signing_secrets[0]), f"msg_{secrets.token_hex(12)}", stamp, body
        )
    elif kind == "sendgrid":
        if sendgrid_key is None:
            raise ValueError(
                "SendGrid signs with its own private key: give a key pair's private key "
                "(PEM) whose public key the source is configured with"
            )
        element = _example(kind, event_type, fallback=None)
        element |= {"timestamp": stamp, "sg_event_id": _sendgrid_id()}
        body = _encode([element])
        headers = sendgrid.sign(sendgrid_key, stamp, body)
    else:
        event = _example(kind, event_type, fallback="checkout.completed")
        event |= {"event": event_type, "devMode": True}
        # The replay window reads the resources' updatedAt: a sample is new now.
        for resource in event.get("data", {}).values():
            if isinstance(resource, dict) and "updatedAt" in resource:
                resource["updatedAt"] = _iso(now)
        body = _encode(event)
        headers, query = abacatepay.sign(
            signing_secrets[0], source.public_key or abacatepay.PUBLIC_KEY, body
        )
    lowered = {name.lower(): value for name, value in headers.items()}
    event_id = events_of(kind, lowered, body)[0].id
    return SignedEvent(event_id, event_type, body, headers, query)


def _example(kind: SourceKind, event_type: str, *, fallback: str | None) -> dict[str, Any]:
    known = examples(kind)
    chosen: dict[str, Any] | None = known.get(event_type) or (
        known.get(fallback) if fallback else None
    )
    if chosen is None:
        raise ValueError(f"{kind} sends no {event_type!r} events; it sends {', '.join(known)}")
    return copy.deepcopy(chosen)  # the caller changes it


def _encode(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(now: float) -> str:
    return iso_utc(now, timespec="milliseconds")


def _sendgrid_id() -> str:
    # SendGrid's ids are base64 (so may hold "/" and "+"): made the same way, so
    # everything that shows or retries an event is tried with such ids too.
    return base64.b64encode(secrets.token_bytes(16)).decode()
