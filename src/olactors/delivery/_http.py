"""An app's HTTP endpoint as a destination: the item's bytes POSTed, signed, once per attempt."""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from ..resilience import retry_after_s
from ..runtime import Clock
from ..signing import secret_key, sign_headers
from ..store import RESPONSE_EXCERPT_BYTES, QueueItem
from ._destination import Delivered
from ._errors import AttemptFailed, DestinationGone

#: How much of an answer is read at most; the rest is never buffered.
DEFAULT_RESPONSE_CAP = 64 * 1024


class HttpDestination:
    """POSTs each item's payload to ``url`` with Standard Webhooks headers.

    Several secrets (one being rotated out) sign each item once each.
    One pooled client per destination, so attempts reuse connections. Only a
    2xx answer is a delivery; a redirect is a failed attempt, never followed
    (the body is signed for this URL). 410 Gone disables the route. The
    answer's body is read up to ``response_cap`` bytes and never further;
    the attempt keeps its first :data:`RESPONSE_EXCERPT_BYTES`.
    """

    def __init__(
        self,
        url: str,
        signing_secret: str | Sequence[str],
        *,
        timeout_s: float = 10.0,
        max_connections: int = 100,
        response_cap: int = DEFAULT_RESPONSE_CAP,
        clock: Clock = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        secrets = [signing_secret] if isinstance(signing_secret, str) else signing_secret
        self._keys = [secret_key(secret) for secret in secrets]
        self.response_cap = response_cap
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            transport=transport,
        )

    def retarget(self, url: str, signing_secret: str | Sequence[str]) -> None:
        """Send what comes next to ``url``, signed with these secrets; attempts already
        on their way finish as they started (the connection pool is kept)."""
        secrets = [signing_secret] if isinstance(signing_secret, str) else signing_secret
        self._keys = [secret_key(secret) for secret in secrets]
        self.url = url

    @staticmethod
    def check_secret(secret: str) -> None:
        """ValueError unless ``secret`` is a usable Standard Webhooks secret."""
        secret_key(secret)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver(self, item: QueueItem) -> Delivered:
        headers = {
            "content-type": "application/json",
            **sign_headers(self._keys, item.id, int(self._clock()), item.payload),
        }
        try:
            async with self._client.stream(
                "POST", self.url, content=item.payload, headers=headers
            ) as response:
                body = await self._read_capped(response)
        except httpx.TimeoutException as exc:
            raise AttemptFailed(f"no answer in time: {exc!r}", outcome="timeout") from exc
        except httpx.HTTPError as exc:
            raise AttemptFailed(f"{type(exc).__name__}: {exc}", outcome="network") from exc
        status = response.status_code
        excerpt = body[:RESPONSE_EXCERPT_BYTES]
        if 200 <= status < 300:
            return Delivered(status=status, response=excerpt)
        error = f"{self.url} answered {status}"
        if status == 410:
            raise DestinationGone(error, outcome="http_error", status=status, response=excerpt)
        raise AttemptFailed(
            error,
            outcome="http_error",
            status=status,
            response=excerpt,
            retry_after_s=retry_after_s(response.headers.get("retry-after"), self._clock()),
        )

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_raw():
                if size < self.response_cap:
                    chunks.append(chunk[: self.response_cap - size])
                size += len(chunk)
                if size >= self.response_cap and not response.is_closed:
                    # Enough: drop the connection and the rest with it. The
                    # loop then ends on the closed stream, which also ends
                    # httpx's and httpcore's readers (a plain break would
                    # leave them to the garbage collector).
                    await response.aclose()
        except httpx.HTTPError:
            if size < self.response_cap:
                raise
        return b"".join(chunks)
