"""The engine's subtree: ``/root/delivery/<namespace>/<destination>``, one courier each."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..runtime import ActorError, ActorSpec, Backoff, Refs, SupervisorSpec
from ..store import QueueWakes
from ._courier import STATE_REFRESH_S, Courier, Wake
from ._keys import destination_of
from ._route import DestinationSpec
from ._slots import SlotPool

#: Where the engine's subtree sits in the daemon's tree.
DELIVERY_PATH = "/root/delivery"


def courier_path(namespace: str, destination: str, root: str = DELIVERY_PATH) -> str:
    return f"{root}/{namespace}/{destination}"


@dataclass(frozen=True, slots=True)
class DeliveryGroup:
    """A namespace's destinations and the ``concurrency`` they share (attempts at once)."""

    namespace: str
    destinations: Sequence[DestinationSpec]
    concurrency: int = 128

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if any(d.namespace != self.namespace for d in self.destinations):
            raise ValueError(f"every destination of {self.namespace} must be in that namespace")


def courier_spec(
    spec: DestinationSpec,
    store_path: str,
    shared: SlotPool,
    *,
    drain_s: float,
    refresh_s: float = STATE_REFRESH_S,
    name: str | None = None,
) -> ActorSpec:
    """One destination's courier, named for it unless ``name`` says otherwise.

    Its shutdown limit is its drain time plus room to give back what it did
    not finish, so an orderly stop never has to cancel a courier.
    """

    def make() -> Courier:
        return Courier(spec, store_path, shared, drain_s=drain_s, refresh_s=refresh_s)

    return ActorSpec(name or spec.name, make, shutdown_timeout_s=drain_s + 5.0)


def delivery_spec(
    groups: Sequence[DeliveryGroup],
    store_path: str,
    *,
    drain_s: float = 10.0,
    refresh_s: float = STATE_REFRESH_S,
    wakes: ActorSpec | None = None,
    max_restarts: int = 5,
    within_s: float = 10.0,
    backoff: Backoff | None = None,
) -> SupervisorSpec:
    """One supervisor per namespace, one courier per destination.

    ``wakes`` (the store's wake listener, on Redis) joins last, so it stops
    before the couriers it wakes.
    """

    supervisors = []
    for group in groups:
        # The pool outlives courier restarts: slots are given back as attempts end.
        shared = SlotPool(group.concurrency)
        supervisors.append(
            SupervisorSpec(
                group.namespace,
                children=[
                    courier_spec(spec, store_path, shared, drain_s=drain_s, refresh_s=refresh_s)
                    for spec in group.destinations
                ],
                max_restarts=max_restarts,
                within_s=within_s,
                backoff=backoff or Backoff(),
            )
        )
    return SupervisorSpec(
        "delivery",
        children=[*supervisors, *([wakes] if wakes is not None else [])],
        max_restarts=max_restarts,
        within_s=within_s,
        backoff=backoff or Backoff(),
    )


#: Where a namespace whose couriers are not under ``/root/delivery`` keeps
#: them: its destination's courier path, by destination name.
CourierPaths = Mapping[str, Callable[[str], str]]


def wake_courier(refs: Refs, queue: str, paths: CourierPaths | None = None) -> None:
    """Tell the courier of ``queue`` (if it is a destination's, and runs here) to claim."""
    owner = destination_of(queue)
    if owner is None:
        return
    namespace, destination = owner
    elsewhere = (paths or {}).get(namespace)
    path = elsewhere(destination) if elsewhere else courier_path(namespace, destination)
    with contextlib.suppress(ActorError):
        refs.actor_ref(path).tell_nowait(Wake())


def queue_wakes(
    url: str, *, prefix: str, password: str | None, paths: CourierPaths | None = None
) -> ActorSpec:
    """On Redis, the listener that wakes this replica's couriers for work another stored."""

    def on_wake(refs: Refs, queue: str) -> None:
        wake_courier(refs, queue, paths)

    return ActorSpec(
        "wakes",
        lambda: QueueWakes(url, prefix=prefix, password=password, on_wake=on_wake),
    )
