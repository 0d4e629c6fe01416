"""Webhook ingress: verify, deduplicate, store durably with its routes, answer; the delivery
engine does the rest."""

from ._budget import BodyBudget
from ._errors import (
    BadSignature,
    BodyTimeout,
    BodyTooLarge,
    EdgeBusy,
    ForbiddenSender,
    MalformedWebhook,
    StaleTimestamp,
    UnknownSource,
    WebhookError,
)
from ._events import IncomingEvent, events_of
from ._ingress import PREFIX, WebhookIngress, WebhookSource
from ._routes import Route, Router, namespace_of
from ._samples import SignedEvent, examples, signed_event
from ._senders import networks
from ._tree import webhook_deliveries, webhook_routers, webhook_sources, webhooks_mount

__all__ = [
    "PREFIX",
    "BadSignature",
    "BodyBudget",
    "BodyTimeout",
    "BodyTooLarge",
    "EdgeBusy",
    "ForbiddenSender",
    "IncomingEvent",
    "MalformedWebhook",
    "Route",
    "Router",
    "SignedEvent",
    "StaleTimestamp",
    "UnknownSource",
    "WebhookError",
    "WebhookIngress",
    "WebhookSource",
    "events_of",
    "examples",
    "namespace_of",
    "networks",
    "signed_event",
    "webhook_deliveries",
    "webhook_routers",
    "webhook_sources",
    "webhooks_mount",
]
