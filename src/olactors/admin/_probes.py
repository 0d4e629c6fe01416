"""Probes on the admin listener: liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Response
from quart_trio import QuartTrio

from .. import metrics
from ..runtime import ActorContext, ActorSnapshot, Snapshot, Status, walk
from ..store import Store, StoreError
from ._answers import json_answer as _json

#: Paths a load balancer or Prometheus may call without the token, when allowed.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def register_probes(app: QuartTrio, context: ActorContext, store: Store) -> None:
    """``GET /healthz``, ``/readyz`` (tree running, no crash loop, store up), ``/metrics``."""

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "alive"})

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = []
        tree = context.snapshot(context.root)
        if tree.status is not Status.RUNNING:
            problems.append(f"root supervisor is {tree.status.value}")
        problems += [_problem(c) for c in _not_running(tree)]
        try:
            await store.queues()
        except StoreError as exc:
            problems.append(f"store unreachable: {exc}")
        if problems:
            return _json({"status": "not ready", "problems": problems}, 503)
        return _json({"status": "ready"})

    @app.get("/metrics")
    async def prometheus() -> Response:
        # Gauges of state that lives elsewhere are read now, at scrape time.
        _tree_gauges(context.snapshot(context.root))
        try:
            for name in await store.queues():
                counts = await store.counts(name)
                for state in ("ready", "leased", "delayed", "dead"):
                    metrics.QUEUE_DEPTH.labels(name, state).set(getattr(counts, state))
        except StoreError:
            pass  # the other series still tell the story; /readyz says the store is down
        return Response(generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST)


def _tree_gauges(tree: Snapshot) -> None:
    for node in walk(tree):
        metrics.ACTOR_RESTARTS.labels(node.path).set(node.restarts_total)
        metrics.RESTARTS_SINCE_STABLE.labels(node.path).set(node.restarts_since_stable)
        if isinstance(node, ActorSnapshot):
            metrics.MAILBOX_DEPTH.labels(node.path).set(node.mailbox_depth)


def _problem(child: Snapshot) -> str:
    if child.crash_looping:
        return f"{child.path} is crash-looping ({child.restarts_since_stable} restarts in a row)"
    return f"{child.path} is {child.status.value}"


def _not_running(tree: Snapshot) -> list[Snapshot]:
    """Children not running, ignoring those stopped on purpose (a transient that ended),
    and children running between the crashes of a crash loop."""
    return [
        node
        for node in walk(tree)
        if node is not tree
        and (node.status in (Status.RESTARTING, Status.STARTING) or node.crash_looping)
    ]
