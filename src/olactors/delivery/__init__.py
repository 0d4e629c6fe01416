"""The delivery engine: everything that must reach somewhere else, at least once.

Users of the engine publish events into the store (``Store.publish``) with
one delivery per destination; a :class:`Courier` per destination claims its
queue's items in batches, tries them within its limits (slots shared by its
namespace, its own in-flight cap, breaker and rate limit), and settles the
outcomes in batches: delivered, retried on the :class:`RetryPolicy`,
dead-lettered, or given back untried. Nothing here knows what a webhook
source is; destinations implement the small :class:`Destination` protocol.
"""

from ._courier import Courier, CourierMessage, Pause, ResetBreaker, Resume, Wake
from ._destination import Delivered, Destination
from ._errors import AttemptFailed, AttemptRejected, DestinationGone
from ._handler import HANDLER_THREADS, HandlerDestination
from ._http import HttpDestination
from ._keys import destination_of, queue_name, state_key
from ._route import DestinationSpec, RouteState, tolerant_breaker
from ._schedule import DEFAULT_SCHEDULE_S, RetryPolicy
from ._slots import SlotPool
from ._tree import (
    DELIVERY_PATH,
    DeliveryGroup,
    courier_path,
    courier_spec,
    delivery_spec,
    queue_wakes,
    wake_courier,
)

__all__ = [
    "DEFAULT_SCHEDULE_S",
    "DELIVERY_PATH",
    "HANDLER_THREADS",
    "AttemptFailed",
    "AttemptRejected",
    "Courier",
    "CourierMessage",
    "Delivered",
    "DeliveryGroup",
    "Destination",
    "DestinationGone",
    "DestinationSpec",
    "HandlerDestination",
    "HttpDestination",
    "Pause",
    "ResetBreaker",
    "Resume",
    "RetryPolicy",
    "RouteState",
    "SlotPool",
    "Wake",
    "courier_path",
    "courier_spec",
    "delivery_spec",
    "destination_of",
    "queue_name",
    "queue_wakes",
    "state_key",
    "tolerant_breaker",
    "wake_courier",
]
