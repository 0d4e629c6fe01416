"""The ``/v1`` app: keys, request ids, idempotency and one error shape around every operation."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

import msgspec
from quart import Response, g, request
from quart_trio import QuartTrio
from quart_trio.wrappers.request import TrioRequest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from ..http import closes_after, gate_bodies, retry_after
from ..runtime import ActorContext
from ..store import LockBusy, Store, StoreError
from ._errors import ApiError, ErrorBody, ErrorInfo, Unauthorized, Unavailable, error_status
from ._idempotency import Idempotency
from ._keys import ApiKeys
from ._operations import Operations, json_response, openapi

log = logging.getLogger("olactors.api")

#: What a capability adds to the app API: its operations, given the listener's
#: context (to find its actors) and the store.
ApiPart = Callable[[Operations, ActorContext, Store], None]

#: Path segments that are an operation's verb where an id could stand
#: (``/v1/connections/{provider}/authorize`` beside ``.../{user}``): an id
#: never takes one of them, so each URL has one resource and one ``Allow``.
VERBS = ("authorize",)


class IdConverter(BaseConverter):
    """``<id:name>``: an id segment that is never one of the :data:`VERBS`."""

    regex = r"(?!(?:" + "|".join(VERBS) + r")(?:/|$))[A-Za-z0-9_.:@-]{1,128}"


#: How far a streamed body may run ahead of the handler reading it.
STREAM_BUFFER_BYTES = 1024 * 1024

#: Paths answered without a key: the description of the API itself.
OPEN = frozenset({"/v1/openapi.json"})


def _limited(streamed: dict[tuple[str, str], int]) -> type[TrioRequest]:
    """A request class whose body limit is the app's, or a streamed operation's own
    (an upload's): set before the body arrives, so a declared length past it is a 413
    at once."""

    class LimitedRequest(TrioRequest):
        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any):
            limit = streamed.get((method, path))
            if limit is not None:
                kwargs["max_content_length"] = limit
            super().__init__(method, scheme, path, *args, **kwargs)

    return LimitedRequest


def api_app(
    context: ActorContext,
    store: Store,
    keys: ApiKeys,
    parts: Sequence[ApiPart],
    *,
    idempotency_ttl_s: float,
    max_body_bytes: int,
    body_timeout_s: float = 10.0,
) -> Any:
    """The app API. Every operation needs ``Authorization: Bearer <key>`` (any of
    ``keys``); every answer is JSON; every error is ``{"error": {"type", "message",
    "details"}}``; every POST honours ``Idempotency-Key``."""
    # No static folder: nothing is served from the working directory.
    app = QuartTrio("olactors-api", static_folder=None)
    app.url_map.converters["id"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.config["BODY_TIMEOUT"] = body_timeout_s
    operations = Operations()
    for part in parts:
        part(operations, context, store)
    streamed = operations.streamed()
    app.request_class = _limited(streamed)
    operations.route(app, Idempotency(store, ttl_s=idempotency_ttl_s))
    document = openapi(operations, title="olactors app API", version=version("olactors"))

    @app.get("/v1/openapi.json")
    async def description() -> Response:
        return json_response(document)

    @app.before_request
    async def identify() -> None:
        # The caller's id if it sent one we can log as is, else ours.
        given = request.headers.get("x-request-id", "")
        valid = 0 < len(given) <= 128 and given.isascii() and given.isprintable()
        g.request_id = given if valid else "req_" + secrets.token_hex(12)
        # Read the body first (bounded by max_body_bytes and the body
        # timeout), whatever the answer will be: answered with part of its
        # body still unread, a kept-alive connection wedged (schemathesis
        # found it with a TRACE whose body came after its headers). An upload
        # is read by its operation as it comes (and its connection closed
        # after an error, its body perhaps unread).
        if (request.method, request.path) not in streamed:
            await request.get_data(cache=True)
        if request.path in OPEN:
            return
        holder = keys.holder(request.headers.get("authorization", ""))
        if holder is None:
            raise Unauthorized("send Authorization: Bearer <an app API key>")
        g.holder = holder

    @app.after_request
    async def stamp(answer: Response) -> Response:
        answer.headers["X-Request-Id"] = g.get("request_id", "")
        answer.headers.setdefault("Cache-Control", "no-store")
        upload = (request.method, request.path) in streamed
        if closes_after(dict(request.headers), answer.status_code) or (
            upload and answer.status_code >= 400
        ):
            answer.headers["Connection"] = "close"
        log.info(
            "%s %s %d",
            request.method,
            request.path,
            answer.status_code,
            extra={"request_id": g.get("request_id"), "api_key": g.get("holder")},
        )
        return answer

    @app.errorhandler(ApiError)
    async def refused(error: ApiError) -> Response:
        answer = json_response(error.body(), error.status)
        if error.retry_after_s is not None:
            name, value = retry_after(error.retry_after_s)
            answer.headers[name.decode()] = value.decode()
        return answer

    @app.errorhandler(StoreError)
    async def store_down(error: StoreError) -> Response:
        if isinstance(error, LockBusy):  # held by another request, a moment longer
            return await refused(Unavailable(str(error)))
        return await refused(Unavailable(f"the store did not answer: {error}"))

    @app.errorhandler(HTTPException)
    async def framework(error: HTTPException) -> Response:
        answer = await refused(error_status(error.code or 400, error.description or error.name))
        for name, value in error.get_headers():
            if name.lower() == "allow":
                answer.headers[name] = value
        return answer

    @app.errorhandler(Exception)
    async def bug(error: Exception) -> Response:
        # Bad input never lands here (it is an ApiError); this is a bug of ours.
        log.exception("app API bug", extra={"request_id": g.get("request_id")})
        body = ErrorBody(ErrorInfo("internal", "an internal error; it has been logged"))
        return Response(msgspec.json.encode(body), status=500, content_type="application/json")

    # An upload is read as it comes, never more than this ahead of the handler.
    return gate_bodies(app, streamed, STREAM_BUFFER_BYTES) if streamed else app
