"""``[delivery]``: how the couriers claim and drain."""

from __future__ import annotations

from pydantic import Field

from ._base import Section


class DeliveryConfig(Section):
    """The delivery engine, for every user of it."""

    #: At an orderly shutdown, attempts in progress get this long to finish;
    #: the rest are cancelled and their events given back untried.
    drain_s: float = Field(default=10.0, gt=0)
    #: The most events a courier claims in one store call.
    claim_batch: int = Field(default=64, ge=1, le=1000)
