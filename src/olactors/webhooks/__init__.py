"""Webhook ingress: verify, deduplicate, store durably with its routes, answer; the delivery
engine does the rest."""

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
from ._listener import HttpListener, listener_spec
from ._routes import Route, Router, namespace_of

__all__ = [
    "BadSignature",
    "BodyTooLarge",
    "HttpListener",
    "IncomingEvent",
    "MalformedWebhook",
    "Route",
    "Router",
    "StaleTimestamp",
    "UnknownSource",
    "WebhookError",
    "WebhookIngress",
    "WebhookSource",
    "events_of",
    "listener_spec",
    "namespace_of",
]
