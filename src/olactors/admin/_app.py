"""The admin listener's app: see and steer every actor, behind a bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import msgspec
import trio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Response, request
from quart_trio import QuartTrio

from .. import metrics
from ..delivery import wake_courier
from ..resilience import CircuitBreaker
from ..runtime import (
    ActorContext,
    ActorNotFound,
    ActorSnapshot,
    ChildStartFailed,
    Snapshot,
    Status,
    walk,
)
from ..store import DeadLetterItem, InvalidStoreCall, Store, StoreError
from ..webhooks import Router
from ._answers import as_text, from_store
from ._answers import error_answer as _error
from ._answers import json_answer as _json
from ._dashboard import PAGE, SESSION_COOKIE, event_stream
from ._events import register_events
from ._guard import Sessions, from_own_origin, host_name, security_headers
from ._providers import RESILIENCE, provider_states
from ._routes import register_routes

#: Paths a load balancer or Prometheus may call without the token, when allowed.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
#: Always open: the page holds no data, and the login checks the token itself.
_OPEN = frozenset({("GET", "/"), ("POST", "/session")})
#: Host names every admin answers to; the bind's and the configured ones join them.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
#: Admin bodies are small JSON (a login, a reason): nothing bigger is read.
MAX_BODY_BYTES = 64 * 1024


def admin_app(
    context: ActorContext,
    store: Store,
    *,
    token: str,
    open_probes: bool,
    routers: Mapping[str, Router] | None = None,
    sessions: Sessions | None = None,
    hosts: frozenset[str] = LOOPBACK_NAMES,
    secure_cookie: bool = False,
    body_timeout_s: float = 10.0,
    closing: trio.Event | None = None,
) -> QuartTrio:
    """The admin app. Every route needs ``Authorization: Bearer <token>`` or a
    dashboard session (compared in constant time), except the probes when
    ``open_probes``. Every request must name one of ``hosts``, and every
    state-changing one come from the admin's own origin (see ``_guard``)."""
    app = QuartTrio("olactors-admin")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["BODY_TIMEOUT"] = body_timeout_s
    expected = f"Bearer {token}".encode()
    sessions = sessions if sessions is not None else Sessions(8 * 3600.0)
    hardening = security_headers(PAGE)

    @app.before_request
    async def guard() -> Response | None:
        if host_name(request.host) not in hosts:
            return _error(400, "this admin does not answer to that Host")
        headers = {name.lower(): value for name, value in request.headers.items()}
        if not from_own_origin(request.method, headers, request.host):
            return _error(403, "cross-site requests may not change anything here")
        if open_probes and request.path in PROBES:
            return None
        if (request.method, request.path) in _OPEN:
            return None
        given = request.headers.get("authorization", "").encode("utf-8", "surrogatepass")
        # The header is compared in constant time; a session id is looked up by hash.
        if hmac.compare_digest(given, expected):
            return None
        if sessions.valid(request.cookies.get(SESSION_COOKIE, "")):
            return None
        return _error(401, "a valid bearer token is required")

    @app.after_request
    async def harden(answer: Response) -> Response:
        for name, value in hardening.items():
            answer.headers.setdefault(name, value)
        answer.headers.setdefault("Cache-Control", "no-store")
        return answer

    register_routes(app, context)
    register_events(app, context, store, routers or {})

    @app.get("/")
    async def dashboard() -> Response:
        return Response(PAGE, content_type="text/html; charset=utf-8")

    @app.get("/session")
    async def logged_in() -> Response:
        return _json({"status": "logged in"})

    @app.post("/session")
    async def login() -> Response:
        body = await request.get_json(force=True, silent=True)
        given = body.get("token") if isinstance(body, dict) else None
        if not isinstance(given, str):
            return _error(400, 'send {"token": "<admin token>"}')
        # surrogatepass: a lone surrogate in JSON is a wrong token, not a crash.
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode()):
            return _error(401, "wrong admin token")
        # A fresh id at every login: one planted before it (fixation) is worthless.
        session = sessions.open(replacing=request.cookies.get(SESSION_COOKIE, ""))
        answer = _json({"status": "logged in"})
        answer.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=int(sessions.ttl_s),
            httponly=True,
            secure=secure_cookie,
            samesite="Strict",
            path="/",
        )
        return answer

    @app.delete("/session")
    async def logout() -> Response:
        sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        answer = _json({"status": "logged out"})
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict")
        return answer

    @app.get("/stream")
    async def stream() -> Response:
        answer = Response(
            event_stream(
                context,
                store,
                interval_s=1.0,
                closing=closing if closing is not None else trio.Event(),
            ),
            content_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
        )
        answer.timeout = None  # a stream lives as long as the page
        return answer

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "alive"})

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = []
        tree = context.snapshot("/root")
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
        _tree_gauges(context.snapshot("/root"))
        try:
            for name in await store.queues():
                counts = await store.counts(name)
                for state in ("ready", "leased", "delayed", "dead"):
                    metrics.QUEUE_DEPTH.labels(name, state).set(getattr(counts, state))
        except StoreError:
            pass  # the other series still tell the story; /readyz says the store is down
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
            await context.supervisor(parent).restart_child(name)
        except ActorNotFound:
            return _error(404, f"no child at /{path} to restart")
        except ChildStartFailed as exc:
            return _error(409, str(exc))
        return _json({"status": "restarted", "path": "/" + path})

    @app.get("/breakers")
    async def breakers() -> Response:
        return _json(provider_states(context, "breaker"))

    @app.post("/breakers/<provider>/reset")
    async def reset_breaker(provider: str) -> Response:
        try:
            ref = context.lookup(f"{RESILIENCE}/{provider}/breaker")
        except ActorNotFound:
            return _error(404, f"no breaker for {provider}")
        await CircuitBreaker(provider, ref).reset()
        return _json({"status": "reset", "provider": provider})

    @app.get("/limiters")
    async def limiters() -> Response:
        return _json(provider_states(context, "limiter"))

    @app.get("/queues")
    async def queues() -> Response:
        try:
            names = await store.queues()
            return _json({name: await store.counts(name) for name in names})
        except StoreError as exc:
            return _error(503, str(exc))

    @app.get("/dead-letters")
    async def dead_letters() -> Response:
        queue = request.args.get("queue", "")
        try:
            limit = int(request.args.get("limit", "50"))
            cursor = int(request.args["cursor"]) if "cursor" in request.args else None
            page = await store.dead_letters(queue, limit=limit, cursor=cursor)
        except (ValueError, InvalidStoreCall) as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        return _json(
            {"items": [_letter(item) for item in page.items], "next_cursor": page.next_cursor}
        )

    @app.get("/dead-letters/<item_id>")
    async def dead_letter(item_id: str) -> Response:
        return await _on_letter(item_id, lambda q: store.dead_letter(q, item_id), _letter)

    def wake(queue: str) -> None:
        """A replayed item is ready now: tell its courier, if it has one."""
        wake_courier(context.lookup, queue)

    @app.post("/dead-letters/<item_id>/replay")
    async def replay(item_id: str) -> Response:
        async def action(queue: str) -> None:
            await store.replay(queue, item_id)
            wake(queue)

        return await _on_letter(item_id, action, lambda _: {"status": "replayed"})

    @app.delete("/dead-letters/<item_id>")
    async def delete(item_id: str) -> Response:
        return await _on_letter(
            item_id, lambda q: store.delete_dead_letter(q, item_id), lambda _: {"status": "deleted"}
        )

    @app.post("/dead-letters/replay")
    async def replay_all() -> Response:
        async def action(queue: str) -> int:
            moved = await store.replay_all(queue)
            wake(queue)
            return moved

        return await _on_letter("", action, lambda n: {"status": "replayed", "count": n})

    async def _on_letter(item_id: str, action: Any, shape: Any) -> Response:
        queue = request.args.get("queue", "")

        async def work() -> Response:
            return _json(shape(await action(queue)))

        return await from_store(work(), missing=f"no dead letter {item_id} in {queue}")

    return app


def _letter(item: DeadLetterItem) -> dict[str, Any]:
    """A dead letter as JSON; the payload as text when it is UTF-8, else base64."""
    payload, encoding = as_text(item.payload)
    data: dict[str, Any] = msgspec.to_builtins(item)
    data.update(payload=payload, payload_encoding=encoding)
    return data


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
