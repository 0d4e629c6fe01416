"""What a delivery attempt can come to, as exceptions a destination raises.

::

    AttemptFailed          the destination did not take the item: retried on the schedule
    ├── DestinationGone    it answered 410 Gone: the route is disabled, its items kept
    └── AttemptRejected    it can never take this item (a bad address, a device gone):
                           dead-lettered now, the others go on

``outcome`` names the kind of failure for the attempt record (``http_error``,
``network``, ``timeout``, ``error``); ``status`` and ``response`` carry the
answer when there was one; ``retry_after_s`` is the destination's own wish.
"""

from __future__ import annotations


class AttemptFailed(Exception):
    """One attempt did not deliver; try again later (never before ``retry_after_s``)."""

    def __init__(
        self,
        message: str,
        *,
        outcome: str = "error",
        status: int | None = None,
        response: bytes = b"",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.status = status
        self.response = response
        self.retry_after_s = retry_after_s

    @property
    def counts_against_breaker(self) -> bool:
        """True when the destination looks down (no answer, or a 5xx), not just unwilling."""
        return self.status is None or self.status >= 500


class DestinationGone(AttemptFailed):
    """The destination answered 410 Gone: stop sending until an operator resumes the route."""


class AttemptRejected(AttemptFailed):
    """This item can never be delivered here (an unknown device, a malformed address):
    a retry would only fail again, so it is dead-lettered at once."""

    @property
    def counts_against_breaker(self) -> bool:
        return False
