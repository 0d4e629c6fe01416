"""What every admin route answers with: JSON, a JSON error, and store failures as statuses."""

from __future__ import annotations

import base64
from collections.abc import Awaitable
from typing import Any

import msgspec
from quart import Response

from ..store import InvalidStoreCall, ItemNotFound, StoreError


def json_answer(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status=status, content_type="application/json")


def error_answer(status: int, message: str) -> Response:
    return json_answer({"error": message}, status)


def as_text(raw: bytes) -> tuple[str, str]:
    """Bytes as UTF-8 text when they are, else base64, with which it is."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), "base64"


async def from_store(work: Awaitable[Response], *, missing: str) -> Response:
    """``work``'s answer, or what a store failure means: 404 ``missing``, 400, or 503."""
    try:
        return await work
    except ItemNotFound:
        return error_answer(404, missing)
    except InvalidStoreCall as exc:
        return error_answer(400, str(exc))
    except StoreError as exc:
        return error_answer(503, str(exc))
