"""``GET /oauth/{provider}/callback`` on the public listener: where the provider sends the
user back. It answers with a redirect to the app, or a short page of its own when
there is nowhere to send them; never a 500."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from ._flow import Authorizations, CallbackOutcome
from ._providers import OAuthProvider

log = logging.getLogger("olactors.oauth")

Send = Any
Receive = Any


class OAuthCallback:
    """The ASGI app at ``/oauth/``."""

    def __init__(self, providers: Mapping[str, OAuthProvider], flow: Authorizations | None) -> None:
        self.providers = providers
        self.flow = flow

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].strip("/").split("/")
        provider = self.providers.get(parts[1]) if len(parts) == 3 else None
        if provider is None or parts[2] != "callback" or self.flow is None:
            await _page(send, 404, "Nothing is here.")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _page(send, 405, "The provider sends the user back with a GET.")
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            outcome = await self.flow.finish(provider, query)
        except Exception:
            # The vault or the store failed: say so, keep the details in the log.
            log.exception("oauth callback for %s failed", provider.name)
            outcome = CallbackOutcome(
                status=503, message="The connection could not be finished. Try again shortly."
            )
        if outcome.redirect is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [
                        (b"location", outcome.redirect.encode()),
                        (b"cache-control", b"no-store"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await _page(send, outcome.status, outcome.message)


async def _page(send: Send, status: int, message: str) -> None:
    body = (
        f"<!doctype html><meta charset=utf-8><title>Connection</title><p>{html.escape(message)}</p>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
