"""The base of every error an HTTP edge answers itself (a 4xx, or a 503 to retry).

Each subclass carries the status it is answered with; ``retry_after_s``,
when set, becomes a ``Retry-After`` header. An edge catches this base and
answers it as JSON: a bad request is never a 500 with a traceback.
"""

from __future__ import annotations

import math


class HttpError(Exception):
    """An error the edge answers with ``status`` (and ``Retry-After`` if ``retry_after_s``)."""

    status: int = 400
    retry_after_s: float | None = None


def retry_after(seconds: float) -> tuple[bytes, bytes]:
    """The ``Retry-After`` header for a wait of ``seconds``: whole seconds, rounded up
    (RFC 9110 allows no fractions), at least 1."""
    return b"retry-after", str(max(1, math.ceil(seconds))).encode()
