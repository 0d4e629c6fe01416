"""One HTTP call to an object store through its rate limiter and circuit breaker actors,
its failures as StorageErrors, retried where the call is safe to repeat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import httpx
import tenacity
import trio

from ..resilience import CircuitOpen, ProviderGuard
from ._objects import (
    ObjectMissing,
    StorageError,
    StorageRefused,
    StorageUnavailable,
    UploadConflict,
)

T = TypeVar("T")
#: A safe call is tried this many times when the store fails it in passing.
ATTEMPTS = 3


class StoreHttp:
    def __init__(
        self,
        provider: str,
        guard: ProviderGuard,
        http: httpx.AsyncClient,
        *,
        status_of: Callable[[int, bytes], int] | None = None,
    ) -> None:
        self.provider = provider
        self.guard = guard
        self.http = http
        #: The status a refusal means (Supabase puts the real one in its body).
        self.status_of = status_of or (lambda status, body: status)

    async def send(
        self, request: httpx.Request, *, stream: bool = False, cleanup: bool = False
    ) -> httpx.Response:
        """Send through the limiter and breaker; a 4xx/5xx answer becomes its StorageError
        (read and closed). With ``stream``, a 2xx answer's body is the caller's to close.
        A ``cleanup`` (aborting what a failed upload left) goes even past an open breaker,
        and its outcome does not count: it is one request, made because of a failure."""
        guard = self.guard
        await guard.limiter.acquire()
        permit = None
        if not cleanup:
            try:
                permit = await guard.breaker.permit()
            except CircuitOpen as exc:
                raise StorageUnavailable(self.provider, f"its breaker is open ({exc})") from exc
        began = trio.current_time()
        try:
            reply = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            if permit is not None:
                guard.breaker.record(permit, failed=True, duration_s=trio.current_time() - began)
            raise StorageUnavailable(self.provider, f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            if permit is not None:
                guard.breaker.record(permit, failed=False, duration_s=0.0, abandoned=True)
            raise
        status = reply.status_code
        if permit is not None:
            guard.breaker.record(
                permit, failed=status >= 500, duration_s=trio.current_time() - began
            )
        if status < 400 and stream:
            return reply
        try:
            await reply.aread()
        except httpx.HTTPError as exc:  # the answer broke off
            raise StorageUnavailable(self.provider, f"{type(exc).__name__}: {exc}") from exc
        finally:
            await reply.aclose()
        if status < 400:
            return reply
        status = self.status_of(status, reply.content)
        said = reply.text[:300]
        if status >= 500 or status == 429:
            raise StorageUnavailable(self.provider, f"HTTP {status}: {said}")
        if status == 404:
            raise ObjectMissing(self.provider, f"HTTP 404: {said}")
        if status == 409:
            raise UploadConflict(self.provider, f"HTTP 409: {said}")
        raise StorageRefused(self.provider, f"HTTP {status}: {said}")

    async def retried(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` again, with backoff, while the store fails it in passing."""
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(ATTEMPTS),
            wait=tenacity.wait_random_exponential(multiplier=0.2, max=5.0),
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, StorageError) and exc.transient
            ),
            sleep=trio.sleep,
            reraise=True,
        )
        result: T = await retrying(attempt)
        return result


def http_client(timeout_s: float, connect_timeout_s: float, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def sent_once(body: bytes) -> tuple[AsyncIterator[bytes], dict[str, str]]:
    """A request body and its length header, for ``httpx.Request(content=..., headers=...)``.

    Given as bytes, a body stays on the request, and a request sits in a reference
    cycle with its response: each part of an upload would stay in memory until the
    next garbage collection. Given as a one-shot stream, it is let go once sent.
    """
    return _once(body), {"Content-Length": str(len(body))}


async def body_of(provider: str, reply: httpx.Response) -> AsyncIterator[bytes]:
    """A streamed answer's bytes, a connection that breaks off as StorageUnavailable."""
    try:
        async for chunk in reply.aiter_bytes():
            yield chunk
    except httpx.HTTPError as exc:
        raise StorageUnavailable(provider, f"{type(exc).__name__}: {exc}") from exc


def first_storage_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """What a nursery of store calls failed with: its first StorageError (so the caller
    sees one error, a fallback can be chosen), else the group itself."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            error = first_storage_error(error)
        if isinstance(error, StorageError):
            return error
    return group
