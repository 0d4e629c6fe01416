"""The one resilient client every provider call goes through."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import tenacity
import trio

from .. import metrics
from ..resilience import ProviderGuard, RateLimited, retry_after_s
from ..runtime import Clock
from ._cache import CachedResponse, ResponseCache
from ._errors import NetworkError, ProviderError, ProviderTimeout, error_for_status

#: Maps a response (status, body) to its error class, None for a success. A
#: provider that reports errors in its body (Meta's codes) brings its own.
Classify = Callable[[int, bytes], type[ProviderError] | None]


def error_for_status_and_body(status: int, body: bytes) -> type[ProviderError] | None:
    return error_for_status(status)


log = logging.getLogger("olactors.clients")

#: Methods a retry cannot make happen twice; a POST needs an idempotency key.
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How one provider is called: where, how long to wait, how hard to retry, what to cache."""

    base_url: str
    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    max_connections: int = 20
    max_keepalive: int = 10
    max_attempts: int = 4
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    cache_ttl_s: float = 60.0
    #: A Retry-After longer than this is not waited out inside a call: the
    #: error goes back to the caller with its retry_after_s.
    max_retry_after_s: float = 30.0
    #: The header that carries an idempotency key (Stripe's spelling is the common one).
    idempotency_header: str = "Idempotency-Key"
    #: At most this long waiting for the budget, else :class:`RateLimited` with its
    #: retry time (the proxy: the app hears when to come back). None: wait it out.
    max_budget_wait_s: float | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Response(msgspec.Struct, frozen=True):
    """A provider's successful answer (2xx or 3xx), body kept as bytes."""

    status: int
    headers: dict[str, str]
    body: bytes
    cached: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class ProviderClient:
    """Calls one provider through its rate limiter and circuit breaker, with safe retries.

    Every attempt first waits for the limiter, then asks the breaker for a
    permit (``CircuitOpen`` fails fast), then sends; its outcome goes back
    to the breaker (a failure only for network errors, timeouts and 5xx) and
    its limit headers to the limiter. A failed attempt is retried, with
    exponential back-off, jitter and at least the provider's Retry-After,
    only when the failure is transient *and* the request is safe to repeat:
    GET/HEAD/PUT/DELETE, or a POST carrying an idempotency key, which is made
    once per call and sent unchanged with every retry. An auth failure or a
    validation error is never retried. GETs are cached when a cache is given.

    Owns its ``httpx.AsyncClient``: use ``async with`` or :meth:`aclose`.
    """

    def __init__(
        self,
        provider: str,
        settings: ClientSettings,
        guard: ProviderGuard,
        *,
        auth: httpx.Auth | None = None,
        cache: ResponseCache | None = None,
        classify: Classify = error_for_status_and_body,
        clock: Clock = time.time,
    ) -> None:
        self.provider = provider
        self._clock = clock
        self.settings = settings
        self._guard = guard
        self._cache = cache
        self._classify = classify
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            auth=auth,
            headers=settings.headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_keepalive,
            ),
        )

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        idempotency_key: str | None = None,
        skip_cache: bool = False,
    ) -> Response:
        """Call the provider; return its answer or raise a :class:`ProviderError` by class.

        ``endpoint`` labels the metrics (a route, not a URL with ids in it).
        ``idempotent=True`` makes an idempotency key for a POST (or pass your
        own as ``idempotency_key``), which makes it safe to retry.
        """
        method = method.upper()
        request = self._http.build_request(method, path, params=params, json=json, content=content)
        for name, value in (headers or {}).items():
            request.headers[name] = value
        if idempotency_key is None and idempotent:
            idempotency_key = secrets.token_hex(16)
        if idempotency_key is not None:
            request.headers[self.settings.idempotency_header] = idempotency_key

        cache_key = None
        if method == "GET" and self._cache is not None:
            cache_key = _cache_key(self.provider, request)
            if not skip_cache:
                hit = await self._cache.get(cache_key)
                metrics.CLIENT_CACHE.labels(self.provider, "hit" if hit else "miss").inc()
                if hit is not None:
                    return Response(hit.status, dict(hit.headers), hit.body, cached=True)

        safe = method in SAFE_METHODS or idempotency_key is not None
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.settings.max_attempts if safe else 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._worth_retrying),
            before_sleep=lambda _: metrics.CLIENT_RETRIES.labels(self.provider, endpoint).inc(),
            sleep=trio.sleep,
            reraise=True,
        )
        response: Response = await retrying(self._attempt, request, endpoint)
        if cache_key is not None and self._cache is not None and 200 <= response.status < 300:
            cached = CachedResponse(response.status, response.headers, response.body)
            await self._cache.put(cache_key, cached, self.settings.cache_ttl_s)
        return response

    def _worth_retrying(self, error: BaseException) -> bool:
        """Transient, and not asking us to wait longer than a call should hang on.

        A provider that asks for more than ``max_retry_after_s`` gets its
        error (with ``retry_after_s``) back to the caller instead of a sleep.
        """
        if not (isinstance(error, ProviderError) and error.transient):
            return False
        told = error.retry_after_s
        return told is None or told <= self.settings.max_retry_after_s

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential back-off with full jitter, but never less than the provider asked."""
        settings = self.settings
        ceiling = min(
            settings.backoff_max_s, settings.backoff_initial_s * 2 ** (state.attempt_number - 1)
        )
        backoff = random.uniform(settings.backoff_initial_s / 2, ceiling)  # noqa: S311 -- jitter
        error = state.outcome.exception() if state.outcome else None
        told = getattr(error, "retry_after_s", None)
        return max(backoff, told) if told is not None else backoff

    async def _slot(self) -> None:
        limiter = self._guard.limiter
        most = self.settings.max_budget_wait_s
        if most is None:
            await limiter.acquire()
            return
        # Asked without waiting, so a refusal takes nothing from the budget.
        deadline = trio.current_time() + most
        while True:
            try:
                await limiter.acquire(wait=False)
            except RateLimited as exc:
                told = exc.retry_after_s or 0.0
                if trio.current_time() + told > deadline:
                    raise
                await trio.sleep(told)
            else:
                return

    async def _attempt(self, request: httpx.Request, endpoint: str) -> Response:
        guard = self._guard
        await self._slot()
        permit = await guard.breaker.permit()
        began = trio.current_time()
        status_label = "network"
        # Every permit goes back to the breaker exactly once, whatever happens
        # here: a leaked half-open trial would hold the breaker open.
        try:
            try:
                reply = await self._send(request)
            except httpx.PoolTimeout as exc:
                # Our own pool was full: not the provider's failure.
                status_label = "pool"
                guard.breaker.record(permit, failed=False, duration_s=0.0, abandoned=True)
                raise ProviderTimeout(self.provider, f"{endpoint}: no free connection") from exc
            except httpx.TimeoutException as exc:
                status_label = "timeout"
                guard.breaker.record(permit, failed=True, duration_s=trio.current_time() - began)
                raise ProviderTimeout(self.provider, f"{endpoint}: no answer in time") from exc
            except httpx.HTTPError as exc:
                # Transport failures, and answers we cannot decode.
                guard.breaker.record(permit, failed=True, duration_s=trio.current_time() - began)
                raise NetworkError(
                    self.provider, f"{endpoint}: {type(exc).__name__}: {exc}"
                ) from exc
            except BaseException:
                status_label = "abandoned"  # cancelled: the answer never came back to us
                guard.breaker.record(permit, failed=False, duration_s=0.0, abandoned=True)
                raise
            finally:
                # Cookies from one user's call must not ride on the next one's.
                self._http.cookies.clear()
            duration = trio.current_time() - began
            status_label = str(reply.status_code)
            guard.breaker.record(permit, failed=reply.status_code >= 500, duration_s=duration)
            guard.limiter.observe(reply.status_code, reply.headers)
            error = self._classify(reply.status_code, reply.content)
            if error is not None:
                raise error(
                    self.provider,
                    f"{endpoint}: HTTP {reply.status_code}",
                    status=reply.status_code,
                    body=reply.content,
                    retry_after_s=retry_after_s(reply.headers.get("retry-after"), self._clock()),
                    headers=reply.headers,
                )
            return Response(reply.status_code, dict(reply.headers), reply.content)
        finally:
            metrics.CLIENT_RESPONSES.labels(self.provider, endpoint, status_label).inc()
            metrics.CLIENT_REQUEST_SECONDS.labels(self.provider, endpoint).observe(
                trio.current_time() - began
            )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        # Streamed, read, and always closed: a body that fails to read or
        # decode must not leave the connection's generators dangling.
        reply = await self._http.send(request, stream=True)
        try:
            await reply.aread()
        finally:
            await reply.aclose()
        return reply


def _cache_key(provider: str, request: httpx.Request) -> str:
    # Hashed: URLs and credentials (Graph API tokens ride in the query) must
    # not sit in the cache's keys. Every request header is part of it, so no
    # credential (Authorization, X-Api-Key, Stripe-Account...) can make one
    # caller's answer another's.
    headers = sorted((k.lower(), v) for k, v in request.headers.items())
    material = "\n".join([provider, str(request.url), *(f"{k}: {v}" for k, v in headers)])
    return hashlib.sha256(material.encode()).hexdigest()
