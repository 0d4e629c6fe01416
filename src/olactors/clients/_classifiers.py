"""Which providers read their error answers their own way (the rest go by status code)."""

from __future__ import annotations

from collections.abc import Mapping

from . import instagram
from ._client import Classify, error_for_status_and_body

#: Instagram's Graph API says "rate limited" or "token expired" in the body of a 400.
CLASSIFIERS: Mapping[str, Classify] = {"instagram": instagram.classify}


def classifier(provider: str) -> Classify:
    """How the client of ``provider`` turns an answer into a typed error."""
    return CLASSIFIERS.get(provider, error_for_status_and_body)
