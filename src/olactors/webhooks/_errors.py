"""Why a webhook request is refused, each with the HTTP status the edge answers.

::

    HttpError (olactors.http: status, retry_after_s)
    └── WebhookError
        ├── MalformedWebhook   400: missing or unreadable headers, body or JSON
        ├── BadSignature       401: no configured secret signs this body
        ├── StaleTimestamp     401: signed too long ago, or too far in the future
        ├── ForbiddenSender    403: sent from outside the source's allow_from
        ├── UnknownSource      404: no source of that name is configured
        ├── BodyTimeout        408: the body did not arrive within body_timeout_s
        ├── BodyTooLarge       413: over max_body_bytes (checked while reading)
        └── EdgeBusy           503: the bodies in flight hold all the memory allowed

Nothing from a refused request is stored. A request refused while its body
was still arriving (408, 413, 503) also closes its connection.
"""

from __future__ import annotations

from ..http import HttpError


class WebhookError(HttpError):
    status = 400


class MalformedWebhook(WebhookError):
    status = 400


class BadSignature(WebhookError):
    status = 401


class StaleTimestamp(WebhookError):
    status = 401


class ForbiddenSender(WebhookError):
    status = 403


class UnknownSource(WebhookError):
    status = 404


class BodyTimeout(WebhookError):
    status = 408


class BodyTooLarge(WebhookError):
    status = 413


class EdgeBusy(WebhookError):
    status = 503
    # Bodies in flight finish in well under this (each has body_timeout_s at most).
    retry_after_s = 5.0
