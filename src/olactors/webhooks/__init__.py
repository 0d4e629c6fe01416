"""Webhook ingress and processing: verify, deduplicate, store durably, answer, then process."""

from ._errors import (
    BadSignature,
    BodyTooLarge,
    MalformedWebhook,
    StaleTimestamp,
    UnknownSource,
    WebhookError,
)

__all__ = [
    "BadSignature",
    "BodyTooLarge",
    "MalformedWebhook",
    "StaleTimestamp",
    "UnknownSource",
    "WebhookError",
]
