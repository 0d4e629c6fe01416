"""One admin call from a command: its answer as JSON, or an :class:`AdminError` saying
what went wrong in words a person can act on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx


class AdminError(Exception):
    """A call the admin listener could not answer, or answered with an error."""


def call(
    client: httpx.Client,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    ok: frozenset[int] = frozenset({200}),
    json_body: Any = None,
) -> Any:
    try:
        answer = client.request(method, path, params=params, json=json_body)
    except httpx.TransportError as exc:
        raise AdminError(
            f"cannot reach the admin listener at {client.base_url} ({type(exc).__name__}: {exc}); "
            "is the daemon running, and is --admin or [admin] bind right?"
        ) from exc
    if answer.status_code == 401:
        raise AdminError(
            "the admin listener refused the token: set the variable [admin] token_env names "
            "(OLACTORS_ADMIN_TOKEN by default) to the daemon's token, or run this where it "
            "can read <state_dir>/admin.token"
        )
    try:
        body = answer.json()
    except ValueError as exc:
        raise AdminError(f"{method} {path} answered {answer.status_code}, not JSON") from exc
    if answer.status_code not in ok:
        message = body.get("error") if isinstance(body, dict) else None
        raise AdminError(f"{answer.status_code}: {message or json.dumps(body)}")
    return body
