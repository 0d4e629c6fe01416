"""Probes on the admin listener: liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from quart import Response, g
from quart_trio import QuartTrio

from .. import metrics
from ..runtime import ActorContext, ActorSnapshot, Snapshot, walk
from ..store import Store, StoreError
from ._answers import json_answer as _json
from ._health import BacklogTrend, assess

#: Paths a load balancer or Prometheus may call without the token, when allowed.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def register_probes(
    app: QuartTrio, context: ActorContext, store: Store, trend: BacklogTrend
) -> None:
    """``GET /healthz``, ``/readyz`` (see ``_health``: problems 503, warnings 200), ``/metrics``."""

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "alive"})

    @app.get("/readyz")
    async def readyz() -> Response:
        health = await assess(context, store, trend)
        code = 503 if health.problems else 200
        if not g.get("authenticated", False):
            # An open probe (a load balancer's): the grade and the counts only.
            # The problems and warnings name routes, URLs and answers.
            counts = {"problem_count": len(health.problems), "warning_count": len(health.warnings)}
            return _json({"status": health.status, **counts}, code)
        answer = {"status": health.status, "problems": health.problems, "warnings": health.warnings}
        return _json(answer, code)

    @app.get("/metrics")
    async def prometheus() -> Response:
        # State that lives elsewhere is read now: an actor or a queue that is
        # gone has no series left behind.
        families = _tree_families(context.snapshot(context.root))
        queues: list[tuple[list[str], float]] = []
        try:
            for name in await store.queues():
                counts = await store.counts(name)
                queues += [([name, state], getattr(counts, state)) for state in QUEUE_STATES]
        except StoreError:
            pass  # the other series still tell the story; /readyz says the store is down
        families.append(metrics.QUEUE_DEPTH.family(queues))
        return Response(metrics.exposition(families), content_type=CONTENT_TYPE_LATEST)


QUEUE_STATES = ("ready", "leased", "delayed", "dead")


def _tree_families(tree: Snapshot) -> list[GaugeMetricFamily]:
    nodes = list(walk(tree))
    return [
        metrics.ACTOR_RESTARTS.family(([n.path], n.restarts_total) for n in nodes),
        metrics.RESTARTS_SINCE_STABLE.family(([n.path], n.restarts_since_stable) for n in nodes),
        metrics.MAILBOX_DEPTH.family(
            ([n.path], n.mailbox_depth) for n in nodes if isinstance(n, ActorSnapshot)
        ),
    ]
