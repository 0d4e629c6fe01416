"""The admin listener's app: see and steer every actor, behind a bearer token."""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Response, request
from quart_trio import QuartTrio

from .. import metrics
from ..runtime import ActorContext, ActorNotFound, ChildStartFailed, Status, SupervisorSnapshot
from ..store import Store, StoreError

#: Paths a load balancer or Prometheus may call without the token, when allowed.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def _json(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def admin_app(
    context: ActorContext, store: Store, *, token: str | None, open_probes: bool
) -> QuartTrio:
    """The admin app. Every route needs ``Authorization: Bearer <token>``
    (compared in constant time), except the probes when ``open_probes``; with
    no token configured (loopback only, the daemon checks) nothing needs one."""
    app = QuartTrio("olactors-admin")
    expected = f"Bearer {token}".encode() if token else None

    @app.before_request
    async def authenticate() -> Response | None:
        if expected is None or (open_probes and request.path in PROBES):
            return None
        given = request.headers.get("authorization", "").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, expected):
            return _error(401, "a valid bearer token is required")
        return None

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "alive"})

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = []
        tree = context.snapshot("/root")
        if tree.status is not Status.RUNNING:
            problems.append(f"root supervisor is {tree.status.value}")
        problems += [f"{c.path} is {c.status.value}" for c in _not_running(tree)]
        try:
            await store.queues()
        except StoreError as exc:
            problems.append(f"store unreachable: {exc}")
        if problems:
            return _json({"status": "not ready", "problems": problems}, 503)
        return _json({"status": "ready"})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST)

    @app.get("/actors")
    async def actors() -> Response:
        return _json(context.snapshot("/root"))

    @app.get("/actors/<path:path>")
    async def actor(path: str) -> Response:
        try:
            return _json(context.snapshot("/" + path))
        except ActorNotFound as exc:
            return _error(404, str(exc))

    @app.post("/actors/<path:path>/restart")
    async def restart(path: str) -> Response:
        parent, _, name = ("/" + path).rstrip("/").rpartition("/")
        try:
            supervisor = context.lookup(parent)
            await supervisor.restart_child(name)
        except (ActorNotFound, AttributeError):
            return _error(404, f"no child at /{path} to restart")
        except ChildStartFailed as exc:
            return _error(409, str(exc))
        return _json({"status": "restarted", "path": "/" + path})

    return app


def _not_running(tree: SupervisorSnapshot) -> list[Any]:
    """Children not running, ignoring those stopped on purpose (a transient that ended)."""
    found = []
    for child in tree.children:
        if child.status in (Status.RESTARTING, Status.STARTING):
            found.append(child)
        if isinstance(child, SupervisorSnapshot):
            found += _not_running(child)
    return found
