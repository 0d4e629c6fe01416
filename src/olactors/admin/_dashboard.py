"""The live dashboard: a page, its login, and the server-sent event stream it reads.

A browser's ``EventSource`` cannot send an ``Authorization`` header, so the
page trades the admin token for a session cookie (HttpOnly, SameSite=Strict,
so neither scripts nor other sites can use it). The cookie holds a random
session id kept server-side (see ``_guard.Sessions``), never the token.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import msgspec
import trio
from quart import Response, request
from quart_trio import QuartTrio

from ..delivery import DELIVERY_PATH
from ..runtime import (
    ActorContext,
    ActorNotFound,
    ActorSnapshot,
    Snapshot,
    SupervisorSnapshot,
    walk,
)
from ..store import DeadLetterItem, QueueCounts, Store, StoreError
from ._answers import error_answer as _error
from ._answers import json_answer as _json
from ._guard import Sessions
from ._health import BacklogTrend, assess
from ._providers import provider_states

SESSION_COOKIE = "olactors_admin"
#: Dead letters listed per queue on the page; the CLI and API page through all.
DEAD_LETTERS_SHOWN = 20

PAGE = files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")


async def dashboard_state(
    context: ActorContext, store: Store, trend: BacklogTrend, sources: list[str]
) -> dict[str, Any]:
    """What the page shows, endpoints first: the health, each route and provider, the
    queues and their dead letters, and (for the advanced view) every actor."""
    health = await assess(context, store, trend)
    dead: list[dict[str, Any]] = []
    store_error = None
    try:
        for name, counts in health.queues.items():
            if counts.dead:
                page = await store.dead_letters(name, limit=DEAD_LETTERS_SHOWN)
                dead += [_dead_letter(item) for item in page.items]
    except StoreError as exc:
        store_error = str(exc)
    # The admin's own path and its supervisors: restarting them would end the
    # very request that asked (and every page's stream).
    unsafe = {context.path.rsplit("/", n)[0] for n in range(context.path.count("/"))}
    return {
        "at": context.clock(),
        "sources": sources,
        "health": {
            "status": health.status,
            "problems": health.problems,
            "warnings": health.warnings,
        },
        "routes": [_route(state, health.queues) for state in _couriers(context)],
        "providers": [
            {"name": name, **state}
            for name, state in sorted(provider_states(context, "breaker").items())
        ],
        "queues": {name: msgspec.to_builtins(c) for name, c in health.queues.items()},
        "dead_letters": dead,
        "actors": [_row(node, unsafe) for node in walk(context.snapshot(context.root))],
        "store_error": store_error,
    }


def _couriers(context: ActorContext) -> list[dict[str, Any]]:
    try:
        tree = context.snapshot(DELIVERY_PATH)
    except ActorNotFound:
        return []
    return [
        node.state
        for node in walk(tree)
        if isinstance(node, ActorSnapshot) and "destination" in node.state
    ]


def _route(state: dict[str, Any], queues: dict[str, QueueCounts]) -> dict[str, Any]:
    counts = queues.get(state["queue"])
    route = state["state"]
    if route.get("gone"):
        shown = "disabled"
    elif route.get("paused"):
        shown = "paused"
    else:
        shown = "running"
    return {
        "namespace": state["namespace"],
        "destination": state["destination"],
        "queue": state["queue"],
        "state": shown,
        "reason": route.get("reason", ""),
        "since": route.get("since"),
        "breaker": state["breaker"],
        "breaker_open_until": state["breaker_open_until"],
        "last_answer": state["last_answer"],
        "failing_since": state["failing_since"],
        "backlog": counts.ready + counts.leased + counts.delayed + counts.held if counts else 0,
        "dead": counts.dead if counts else 0,
        "delivered": state["delivered"],
    }


def _row(node: Snapshot, unsafe: set[str]) -> dict[str, Any]:
    error = node.last_error
    entry: dict[str, Any] = {
        "path": node.path,
        "status": node.status.value,
        "restarts": node.restarts_total,
        "last_error": f"{error.type}: {error.message}" if error else None,
        "restartable": node.path not in unsafe,
    }
    if isinstance(node, SupervisorSnapshot):
        return {**entry, "mailbox": None, "rate_per_s": None}
    fill = f"{node.mailbox_depth}/{node.mailbox_capacity}"
    return {**entry, "mailbox": fill, "rate_per_s": round(node.rate_per_s, 1)}


def _dead_letter(item: DeadLetterItem) -> dict[str, Any]:
    return {
        "queue": item.queue,
        "id": item.id,
        "attempts": item.attempts,
        "error": item.last_error,
        "dead_at": item.dead_at,
    }


async def event_stream(
    context: ActorContext,
    store: Store,
    trend: BacklogTrend,
    sources: list[str],
    interval_s: float,
    closing: trio.Event,
) -> AsyncIterator[bytes]:
    """``data: <state JSON>`` every ``interval_s`` until the client goes away or
    ``closing`` is set (the listener shuts down; the page reconnects to the next one)."""
    while not closing.is_set():
        state = await dashboard_state(context, store, trend, sources)
        yield b"event: state\ndata: " + msgspec.json.encode(state) + b"\n\n"
        with trio.move_on_after(interval_s):
            await closing.wait()


def register_dashboard(
    app: QuartTrio,
    context: ActorContext,
    store: Store,
    trend: BacklogTrend,
    *,
    sources: list[str],
    token: str,
    sessions: Sessions,
    secure_cookie: bool,
    closing: trio.Event,
) -> None:
    """``GET /`` (the page), ``GET|POST|DELETE /session`` (its login), ``GET /stream``."""

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
        try:
            session = await sessions.open(store, replacing=request.cookies.get(SESSION_COOKIE, ""))
        except StoreError as exc:
            return _error(503, f"cannot keep a session now: {exc}")
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
        await sessions.close(store, request.cookies.get(SESSION_COOKIE, ""))
        answer = _json({"status": "logged out"})
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict")
        return answer

    @app.get("/stream")
    async def stream() -> Response:
        answer = Response(
            event_stream(
                context,
                store,
                trend,
                sources,
                interval_s=1.0,
                closing=closing,
            ),
            content_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
        )
        answer.timeout = None  # a stream lives as long as the page
        return answer
