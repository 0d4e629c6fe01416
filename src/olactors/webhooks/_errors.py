"""Why a webhook request is refused, each with the HTTP status the edge answers.

::

    WebhookError
    ├── MalformedWebhook   400: missing or unreadable headers, body or JSON
    ├── BadSignature       401: no configured secret signs this body
    ├── StaleTimestamp     401: signed too long ago, or too far in the future
    ├── UnknownSource      404: no source of that name is configured
    └── BodyTooLarge       413: over max_body_bytes (checked while reading)

Nothing from a refused request is stored.
"""

from __future__ import annotations


class WebhookError(Exception):
    status = 400


class MalformedWebhook(WebhookError):
    status = 400


class BadSignature(WebhookError):
    status = 401


class StaleTimestamp(WebhookError):
    status = 401


class UnknownSource(WebhookError):
    status = 404


class BodyTooLarge(WebhookError):
    status = 413
