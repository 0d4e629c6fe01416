"""``Idempotency-Key`` on every POST: the same key and request get the first answer again.

As Stripe does it: the key is the caller's (one per intended operation, a
UUID say), scoped to the API key that sent it. The first request's
successful answer is kept ``ttl_s`` (24 h) in the store, so any replica
answers a retry with it (``Idempotent-Replayed: true``), and nothing is done
twice. The same key with a different request (method, path or body) is a
409. While the first request is still running, a second with its key is a
409 too (``retry_after_s``): a ``put_if_absent`` in the store is the lock,
across replicas, renewed while the request runs (a proxied call can take
longer than ``LOCK_S``) and freed when it ends, or ``LOCK_S`` after its
replica died. Errors are not kept: a retry after a 4xx or 5xx runs again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable

import msgspec
import trio
from quart import Response

from ..runtime import unwrap_group
from ..store import Store, StoreError
from ._errors import Conflict, IdempotencyConflict, InvalidRequest, Unavailable

log = logging.getLogger("olactors.api")

#: How long a request's hold on its key lasts unless renewed (every third of
#: it, while the request runs); a request whose replica died frees it then.
LOCK_S = 10.0
#: What a key may be: visible ASCII (a UUID, a ULID, an order id), 1 to 255 of them.
KEY_PATTERN = re.compile(r"^[!-~]{1,255}$")


class _Kept(msgspec.Struct, frozen=True):
    fingerprint: str
    status: int
    answer: bytes
    # A proxied answer is the provider's: its type and headers are replayed too.
    content_type: str = "application/json"
    headers: dict[str, str] = {}


#: Headers the replay makes again itself.
_OWN = frozenset({"content-type", "content-length"})


class InProgress(Conflict):
    retry_after_s = LOCK_S


class Idempotency:
    def __init__(self, store: Store, *, ttl_s: float, lock_s: float = LOCK_S) -> None:
        self._store = store
        self.ttl_s = ttl_s
        self.lock_s = lock_s

    async def once(
        self,
        holder: str,
        key: str,
        request: bytes,
        run: Callable[[], Awaitable[Response]],
    ) -> Response:
        """``run()``'s answer, or the one kept for ``key`` if this request was made before.

        ``request`` is what identifies the request: method, path, query and body
        (and, for a proxied call, its user and the headers it passes on).
        """
        if not KEY_PATTERN.match(key):
            raise InvalidRequest("an Idempotency-Key is 1 to 255 visible ASCII characters")
        fingerprint = hashlib.sha256(request).hexdigest()
        name = hashlib.sha256(f"{holder}\n{key}".encode()).hexdigest()
        lock = f"idempotency-lock:{name}"
        try:
            kept = await self._store.get(f"idempotency:{name}")
            if kept is not None:
                return _replay(msgspec.msgpack.decode(kept, type=_Kept), fingerprint)
            if not await self._store.put_if_absent(lock, b"1", ttl_s=self.lock_s):
                raise InProgress("a request with this Idempotency-Key is still running")
        except StoreError as exc:
            raise Unavailable(f"the store did not answer: {exc}") from exc
        kept_now = False
        try:
            answer = await self._holding(lock, run)
            if 200 <= answer.status_code < 300:
                body = await answer.get_data(as_text=False)
                record = _Kept(
                    fingerprint,
                    answer.status_code,
                    body,
                    answer.content_type or "application/octet-stream",
                    {k: v for k, v in answer.headers.items() if k.lower() not in _OWN},
                )
                try:
                    await self._store.put(
                        f"idempotency:{name}", msgspec.msgpack.encode(record), ttl_s=self.ttl_s
                    )
                    kept_now = True
                except StoreError as exc:
                    # It was done: answering an error would make the caller do
                    # it again. A retry after this runs again.
                    log.warning("an answer could not be kept for its Idempotency-Key: %s", exc)
            return answer
        finally:
            if not kept_now:
                # An error is not kept: free the key at once for the retry
                # (a kept answer needs no lock: retries find it first).
                with trio.CancelScope(shield=True), contextlib.suppress(StoreError):
                    await self._store.delete(lock)  # else it frees itself after LOCK_S

    async def _holding(self, lock: str, run: Callable[[], Awaitable[Response]]) -> Response:
        """``run()``, its key's lock renewed until it ends."""

        async def renew() -> None:
            while True:
                await trio.sleep(self.lock_s / 3)
                try:
                    await self._store.put(lock, b"1", ttl_s=self.lock_s)
                except StoreError as exc:  # the next renewal may get through
                    log.warning("an Idempotency-Key's hold was not renewed: %s", exc)

        answers: list[Response] = []
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(renew)
                answers.append(await run())
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap_group(group) from None
        return answers[0]


def _replay(kept: _Kept, fingerprint: str) -> Response:
    if kept.fingerprint != fingerprint:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different request (method, path or body)"
        )
    answer = Response(kept.answer, status=kept.status, content_type=kept.content_type)
    for name, value in kept.headers.items():
        answer.headers[name] = value
    answer.headers["Idempotent-Replayed"] = "true"
    return answer
