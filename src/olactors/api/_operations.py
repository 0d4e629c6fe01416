"""Each ``/v1`` operation declared once: routed, validated and described from the same types.

An operation names its request body, query and answer as msgspec types. The
same types decode and check what comes in (a body of the wrong shape is a 422
that says where), encode what goes out, and make the OpenAPI 3.1 document, so
the document cannot drift from what the code accepts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from quart import Request, Response, g, request
from quart_trio import QuartTrio

from ._errors import ErrorBody, ErrorDetail, InvalidRequest, ValidationFailed, from_validation
from ._idempotency import KEY_PATTERN, Idempotency

#: A handler gets the decoded body (or None), the decoded query (or None) and
#: the path's parameters, and returns the answer (a msgspec type). A raw
#: operation's handler gets the request and its body's bytes instead, and
#: returns the Response itself.
Handler = Callable[..., Awaitable[Any]]

_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  #: Quart's form: /v1/subscribers/<user>/tokens
    summary: str
    handler: Handler
    response: Any
    status: int = 200
    body: Any = None
    query: Any = None
    tag: str = "api"
    #: Statuses besides 400/401/422 this operation answers with an error.
    errors: tuple[int, ...] = ()
    #: The type of each path parameter (a constrained str, say); str if not named.
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Request headers it reads, by type, for the document (none required).
    headers: Mapping[str, Any] = field(default_factory=dict)
    #: Body and answer pass as they are, of any type (the provider proxy).
    raw: bool = False
    #: Its operationId, where one handler serves several methods.
    name: str | None = None
    #: What else, besides method, path, query and body, makes two requests two
    #: (for an Idempotency-Key): the proxy's user and the headers it passes on.
    varies: Callable[[Request], bytes] | None = None
    #: Its body is streamed to the handler, up to this many bytes, never read whole
    #: first (an upload); it takes no Idempotency-Key (its body is not kept to compare).
    stream_limit: int | None = None

    @property
    def openapi_path(self) -> str:
        return _PARAMETER.sub(r"{\1}", self.path)

    @property
    def parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)


@dataclass
class Operations:
    """The app API's operations, in the order they were declared."""

    declared: list[Operation] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        response: Any,
        status: int = 200,
        body: Any = None,
        query: Any = None,
        tag: str = "api",
        errors: tuple[int, ...] = (),
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        raw: bool = False,
        name: str | None = None,
        varies: Callable[[Request], bytes] | None = None,
        stream_limit: int | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            operation = Operation(
                method,
                path,
                summary,
                handler,
                response,
                status,
                body,
                query,
                tag,
                errors,
                params or {},
                headers or {},
                raw,
                name,
                varies,
                stream_limit,
            )
            self.declared.append(operation)
            return handler

        return register

    def streamed(self) -> dict[tuple[str, str], int]:
        """(method, path) of each operation whose body is streamed, and its limit (only
        paths without parameters: the limit is set before routing)."""
        return {
            (op.method, op.path): op.stream_limit
            for op in self.declared
            if op.stream_limit is not None and "<" not in op.path
        }

    def route(self, app: QuartTrio, once: Idempotency) -> None:
        """Route every operation in ``app``, decoding and encoding with its types; a POST
        with an ``Idempotency-Key`` runs ``once``."""
        for operation in self.declared:
            endpoint = f"{operation.method} {operation.path}"
            app.add_url_rule(
                operation.path,
                endpoint=endpoint,
                view_func=_view(operation, once),
                methods=[operation.method],
            )


def _view(operation: Operation, once: Idempotency) -> Callable[..., Awaitable[Response]]:
    async def view(**parameters: str) -> Response:
        for name, kind in operation.params.items():
            try:
                msgspec.convert(parameters[name], type=kind)
            except msgspec.ValidationError as exc:
                detail = ErrorDetail(str(exc).partition(" - at ")[0], f"path: {name}")
                raise ValidationFailed(f"the path's {name} is not valid", [detail]) from None
        body = None
        raw = b""
        if operation.stream_limit is None:  # else the handler reads the body as it comes
            data = await request.get_data(cache=True, as_text=False)
            raw = data if isinstance(data, bytes) else data.encode()
        if operation.body is not None:
            try:
                body = msgspec.json.decode(raw, type=operation.body)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise from_validation(exc) from None
        query = None
        if operation.query is not None:
            try:
                query = msgspec.convert(
                    dict(request.args.items()), type=operation.query, strict=False
                )
            except msgspec.ValidationError as exc:
                message, _, where = str(exc).partition(" - at `$.")
                detail = ErrorDetail(message, f"query: {where.rstrip('`')}" if where else None)
                raise InvalidRequest("a query parameter is not valid", [detail]) from None

        if operation.stream_limit is not None:
            streamed = await operation.handler(request, query, **parameters)
            return json_response(streamed, operation.status)

        async def run() -> Response:
            if operation.raw:
                answer: Response = await operation.handler(request, raw, **parameters)
                return answer
            decoded = await operation.handler(body, query, **parameters)
            return json_response(decoded, operation.status)

        # After the request was read and checked: one refused for its shape
        # never spends (or holds) its key.
        key = request.headers.get("idempotency-key")
        if operation.method != "POST" or key is None:
            return await run()
        asked = request.query_string.decode("latin-1")
        target = f"{request.path}?{asked}" if asked else request.path
        head = f"{request.method} {target}\n"
        if operation.varies is not None:
            # Hashed, so it has one length and cannot run into the body.
            head += hashlib.sha256(operation.varies(request)).hexdigest() + "\n"
        fingerprint = head.encode() + raw
        return await once.once(g.holder, key, fingerprint, run)

    return view


def json_response(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status=status, content_type="application/json")


def openapi(operations: Operations, *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``, schemas from their own types."""
    types: list[Any] = [ErrorBody]
    for operation in operations.declared:
        types += [t for t in (operation.body, operation.query, operation.response) if t is not None]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    schema_of = dict(zip(types, schemas, strict=True))
    error = {
        "description": "an error",
        "content": {"application/json": {"schema": schema_of[ErrorBody]}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations.declared:
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": msgspec.json.schema(operation.params.get(name, str)),
            }
            for name in operation.parameters
        ]
        if operation.query is not None:
            query_schema = components[operation.query.__name__]
            required = set(query_schema.get("required", []))
            parameters += [
                {"name": name, "in": "query", "required": name in required, "schema": prop}
                for name, prop in query_schema["properties"].items()
            ]
        parameters += [
            {"name": name, "in": "header", "required": False, "schema": msgspec.json.schema(kind)}
            for name, kind in operation.headers.items()
        ]
        answer_content = (
            {"*/*": {"schema": {}}}
            if operation.raw
            else {"application/json": {"schema": schema_of[operation.response]}}
        )
        entry: dict[str, Any] = {
            "summary": operation.summary,
            "operationId": operation.name or operation.handler.__name__,
            "tags": [operation.tag],
            "parameters": parameters,
            "responses": {
                str(operation.status): {"description": "done", "content": answer_content},
                **{
                    str(status): error
                    for status in sorted(
                        {400, 401, 413, 422, 503, *operation.errors}
                        | ({409} if operation.method == "POST" else set())
                    )
                },
            },
        }
        if operation.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[operation.body]}},
            }
        elif operation.stream_limit is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        elif operation.raw and operation.method in ("POST", "PUT", "PATCH"):
            # Passed on as sent, whatever its type; JSON is the common case.
            entry["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": {}}},
            }
        if operation.method == "POST" and operation.stream_limit is None:
            entry["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": KEY_PATTERN.pattern},
                }
            )
        paths.setdefault(operation.openapi_path, {})[operation.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"key": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"key": []}],
    }
