"""What a verified request body holds: one event, or (SendGrid) a list of them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from ..config import SourceKind as Kind
from ._errors import MalformedWebhook


class IncomingEvent(msgspec.Struct, frozen=True):
    """One event to store: its provider id (the dedup key), its type, its bytes."""

    id: str
    type: str
    payload: bytes


def events_of(kind: Kind, headers: Mapping[str, str], body: bytes) -> list[IncomingEvent]:
    """Split a verified body into events, by the source's kind.

    Ids: Stripe's ``id``, Standard Webhooks' ``webhook-id`` header, SendGrid's
    ``sg_event_id`` per element, AbacatePay's ``id`` when it sends one (v1),
    else a hash of the raw body (v2 sends none; a resend is the same bytes).
    """
    document = _json(body)
    if kind == "sendgrid":
        if not isinstance(document, list) or not document:
            raise MalformedWebhook("a SendGrid body is a non-empty JSON array of events")
        return [_sendgrid(element) for element in document]
    if not isinstance(document, dict):
        raise MalformedWebhook("the body is not a JSON object")
    if kind == "stripe":
        return [IncomingEvent(_text(document, "id"), _text(document, "type"), body)]
    if kind == "standard":
        event_id = headers.get("webhook-id", "")
        kind_of = document.get("type")
        return [IncomingEvent(event_id, kind_of if isinstance(kind_of, str) else "", body)]
    given = document.get("id")
    if isinstance(given, str) and given:
        abacate_id = given
    else:
        abacate_id = "sha256:" + hashlib.sha256(body).hexdigest()
    kind_of = document.get("event")
    return [IncomingEvent(abacate_id, kind_of if isinstance(kind_of, str) else "", body)]


def _sendgrid(element: Any) -> IncomingEvent:
    if not isinstance(element, dict):
        raise MalformedWebhook("every SendGrid event is a JSON object")
    return IncomingEvent(
        _text(element, "sg_event_id"), _text(element, "event"), msgspec.json.encode(element)
    )


def _text(document: dict[str, Any], field: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedWebhook(f"the event has no {field}")
    return value


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedWebhook(f"the body is not JSON: {exc}") from None
    except RecursionError:
        # msgspec stops at the interpreter's recursion limit: no provider nests so deep.
        raise MalformedWebhook("the JSON is nested too deeply") from None
