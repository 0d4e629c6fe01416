"""Webhook ingress and processing: verify, deduplicate, store durably, answer, then process."""

from ._errors import (
    BadSignature,
    BodyTooLarge,
    MalformedWebhook,
    StaleTimestamp,
    UnknownSource,
    WebhookError,
)
from ._events import IncomingEvent, events_of
from ._ingress import WebhookIngress, WebhookSource
from ._listener import HttpListener

__all__ = [
    "BadSignature",
    "BodyTooLarge",
    "HttpListener",
    "IncomingEvent",
    "MalformedWebhook",
    "StaleTimestamp",
    "UnknownSource",
    "WebhookError",
    "WebhookIngress",
    "WebhookSource",
    "events_of",
]
