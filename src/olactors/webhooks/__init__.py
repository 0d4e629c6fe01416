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
from ._routes import (
    DeliveryFailed,
    ForwardDestination,
    HandlerDestination,
    Route,
    RouteGone,
    standard_signature,
)
from ._worker import DEFAULT_SCHEDULE_S, WebhookWorker

__all__ = [
    "DEFAULT_SCHEDULE_S",
    "BadSignature",
    "BodyTooLarge",
    "DeliveryFailed",
    "ForwardDestination",
    "HandlerDestination",
    "HttpListener",
    "IncomingEvent",
    "MalformedWebhook",
    "Route",
    "RouteGone",
    "StaleTimestamp",
    "UnknownSource",
    "WebhookError",
    "WebhookIngress",
    "WebhookSource",
    "WebhookWorker",
    "events_of",
    "standard_signature",
]
