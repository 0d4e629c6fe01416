"""A daemon whose proxy reaches a local fake of Google's, Instagram's, Stripe's and
SendGrid's APIs, its OAuth providers at a local authorization server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from olactors.testing import Canned, FakeProvider, Seen

from ..oauth.support import API_KEY, AuthorizationServer, Daemon, authorization_server, run_daemon

STRIPE_KEY = "sk_test_0123456789abcdefghijklmn"
SENDGRID_KEY = "SG.0123456789abcdefghij.klmnopqrstuvwxyz"
ENV = {"STRIPE_SECRET_KEY": STRIPE_KEY, "SENDGRID_API_KEY": SENDGRID_KEY}
#: Quick retries, so a test of them takes milliseconds.
FAST = {"max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.02}
#: Google's answer to a token it does not take (its APIs' error shape).
GOOGLE_401 = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials.",
        "status": "UNAUTHENTICATED",
    }
}


def providers(api: str, google: Mapping[str, Any] | None = None, **stripe: Any) -> dict[str, Any]:
    return {
        "google": {"base_url": api, **FAST, **(google or {})},
        "instagram": {"base_url": f"{api}/v21.0", **FAST},
        "stripe": {
            "base_url": api,
            "secret_env": "STRIPE_SECRET_KEY",
            "idempotency_header": "Idempotency-Key",
            **FAST,
            **stripe,
        },
        "sendgrid": {"base_url": api, "secret_env": "SENDGRID_API_KEY", **FAST},
    }


@dataclass
class Rig:
    auth: AuthorizationServer
    api: FakeProvider
    daemon: Daemon
    #: Access tokens the fake APIs refuse (revoked at the provider, say).
    refused: set[str]

    def google(self, answer: Canned) -> None:
        """``/drive/v3/files`` answers ``answer`` to a token the server issued, else 401."""

        def drive(request: Seen) -> Canned:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.auth.issued or token in self.refused:
                return Canned(401, json=GOOGLE_401)
            return answer

        self.api.route("/drive/v3/files", drive)

    async def proxy(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        sent: dict[str, str | bytes] = {"authorization": f"Bearer {API_KEY}", **(headers or {})}
        if user is not None:
            sent["olactors-user"] = user
        async with httpx.AsyncClient(base_url=self.daemon.api_url) as client:
            return await client.request(method, path, headers=sent, content=content)


@asynccontextmanager
async def proxied(
    tmp_path: Path,
    *,
    env: Mapping[str, str] = ENV,
    google: Mapping[str, Any] | None = None,
    **stripe: Any,
) -> AsyncIterator[Rig]:
    """The rig; ``google`` and ``stripe`` add to those providers' settings."""
    api = FakeProvider()
    async with trio.open_nursery() as nursery:
        await nursery.start(api.serve)
        async with (
            authorization_server() as auth,
            run_daemon(
                tmp_path, auth, providers=providers(api.url, google, **stripe), env=env
            ) as daemon,
        ):
            yield Rig(auth, api, daemon, set())
        nursery.cancel_scope.cancel()
