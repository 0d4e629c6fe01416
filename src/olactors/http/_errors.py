"""The base of every error an HTTP edge answers itself (a 4xx, or a 503 to retry).

Each subclass carries the status it is answered with; ``retry_after_s``,
when set, becomes a ``Retry-After`` header. An edge catches this base and
answers it as JSON: a bad request is never a 500 with a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


class HttpError(Exception):
    """An error the edge answers with ``status`` (and ``Retry-After`` if ``retry_after_s``)."""

    status: int = 400
    retry_after_s: float | None = None


def retry_after(seconds: float) -> tuple[bytes, bytes]:
    """The ``Retry-After`` header for a wait of ``seconds``: whole seconds, rounded up
    (RFC 9110 allows no fractions), at least 1."""
    return b"retry-after", str(max(1, math.ceil(seconds))).encode()


def closes_after(headers: Mapping[str, str], status: int) -> bool:
    """Whether an error answer must end its connection: the request has a body that
    may still be arriving, unread (a 401, 404 or 405 is answered before it).

    On a kept-alive connection the rest of that body would be read as the
    next request, or wait for one that never comes (found by schemathesis:
    a TRACE whose body came after its headers left the next request
    unanswered). Closing costs the client a new connection, on errors only.
    """
    if status < 400:
        return False
    lowered = {name.lower(): value for name, value in headers.items()}
    declared = lowered.get("content-length", "0")
    return "transfer-encoding" in lowered or (declared.isdigit() and int(declared) > 0)
