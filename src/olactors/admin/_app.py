"""The admin listener's app: see and steer every actor, behind a bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence

import trio
from quart import Response, g, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from ..http import closes_after
from ..processes import process_id
from ..runtime import (
    ActorContext,
)
from ..store import Store
from ..webhooks import Router
from ._actors import register_actors
from ._answers import error_answer as _error
from ._dashboard import PAGE, SESSION_COOKIE, register_dashboard
from ._dead_letters import register_dead_letters
from ._events import register_events
from ._guard import Sessions, from_own_origin, host_name, security_headers
from ._health import BacklogTrend
from ._probes import PROBES, register_probes
from ._processes import register_processes
from ._providers import register_providers
from ._routes import register_routes

#: Always open: the page holds no data, and the login checks the token itself.
_OPEN = frozenset({("GET", "/"), ("POST", "/session")})
#: Host names every admin answers to; the bind's and the configured ones join them.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
#: Admin bodies are small JSON (a login, a reason): nothing bigger is read.
MAX_BODY_BYTES = 64 * 1024


#: What a capability adds to the admin: its routes, behind the same guard.
AdminPart = Callable[[QuartTrio, ActorContext, Store], None]


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
    parts: Sequence[AdminPart] = (),
) -> QuartTrio:
    """The admin app. Every route needs ``Authorization: Bearer <token>`` or a
    dashboard session (compared in constant time), except the probes when
    ``open_probes``. Every request must name one of ``hosts``, and every
    state-changing one come from the admin's own origin (see ``_guard``)."""
    # No static folder: nothing is served from the working directory.
    app = QuartTrio("olactors-admin", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["BODY_TIMEOUT"] = body_timeout_s
    expected = f"Bearer {token}".encode()
    sessions = sessions if sessions is not None else Sessions(8 * 3600.0)
    hardening = security_headers(PAGE)
    this_process = process_id()

    @app.before_request
    async def guard() -> Response | None:
        if host_name(request.host) not in hosts:
            return _error(400, "this admin does not answer to that Host")
        headers = {name.lower(): value for name, value in request.headers.items()}
        if not from_own_origin(request.method, headers, request.host):
            return _error(403, "cross-site requests may not change anything here")
        # The body first (bounded by MAX_BODY_BYTES and the body timeout),
        # whatever the answer: one given with part of the body unread left
        # the kept-alive connection wedged.
        await request.get_data(cache=True)
        given = request.headers.get("authorization", "").encode("utf-8", "surrogatepass")
        # The header is compared in constant time; a session id is looked up by hash.
        g.authenticated = hmac.compare_digest(given, expected) or await sessions.valid(
            store, request.cookies.get(SESSION_COOKIE, "")
        )
        if g.authenticated:
            return None
        if open_probes and request.path in PROBES:
            return None  # answered, but with nothing an outsider should read (see _probes)
        if (request.method, request.path) in _OPEN:
            return None
        return _error(401, "a valid bearer token is required")

    @app.after_request
    async def harden(answer: Response) -> Response:
        for name, value in hardening.items():
            answer.headers.setdefault(name, value)
        answer.headers.setdefault("Cache-Control", "no-store")
        # Several processes may share this address: say which one answered
        # (to whoever may know: not in a refusal, nor an open probe's answer).
        if g.get("authenticated"):
            answer.headers["Olactors-Process"] = this_process
        if closes_after(dict(request.headers), answer.status_code):
            answer.headers["Connection"] = "close"
        return answer

    @app.errorhandler(HTTPException)
    async def as_json(error: HTTPException) -> Response:
        # Quart's own answers (no such path, a method the path does not take,
        # a body it cannot parse) are JSON like every other: a client never
        # has to parse an HTML page.
        answer = _error(error.code or 500, error.description or error.name)
        for name, value in error.get_headers():
            if name.lower() == "allow":
                answer.headers[name] = value
        return answer

    # One trend for every reader of the health (probes and dashboards alike).
    trend = BacklogTrend(context.clock)
    register_dashboard(
        app,
        context,
        store,
        trend,
        sources=sorted(routers or {}),
        token=token,
        sessions=sessions,
        secure_cookie=secure_cookie,
        closing=closing if closing is not None else trio.Event(),
    )
    register_probes(app, context, store, trend)
    register_actors(app, context)
    register_providers(app, context)
    register_dead_letters(app, context, store)
    register_routes(app, context)
    register_events(app, context, store, routers or {})
    register_processes(app, context, store)
    for part in parts:
        part(app, context, store)

    return app
