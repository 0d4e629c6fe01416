"""The shared backend: Redis, so that several daemons behind a load balancer share state."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from . import _redis_scripts as lua
from ._commands import (
    Ack,
    Bury,
    Claim,
    ClaimKey,
    Command,
    Counts,
    DeleteDead,
    Enqueue,
    GetDead,
    KvGet,
    KvPut,
    ListDead,
    Nack,
    Queues,
    ReplayAllDead,
    ReplayDead,
)
from ._errors import ItemNotFound, LeaseLost, StoreUnavailable
from ._types import DeadLetterItem, DeadLetterPage, EnqueueResult, Lease, QueueCounts, QueueItem

#: Turns one pipeline reply into the command's outcome (a value or an error instance).
Parse = Callable[[Any], Any]

# Failures that mean "Redis is not there right now" (BusyLoadingError, the
# dataset still loading after a restart, is a ConnectionError).
_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def redacted(url: str) -> str:
    """The URL without its password, for logs and ``inspect()``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class RedisBackend:
    """Runs command batches as one Redis pipeline: one round trip per batch.

    Every command is one call (a native command or a Lua script), so replies
    map one to one. The client does not retry on its own: a failed batch
    raises :class:`StoreUnavailable` and the store actor backs off, which is
    what reconnecting with back-off amounts to. Scripts missing after a Redis
    restart are loaded again by the pipeline before it runs.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "olactors",
        password: str | None = None,
        connect_timeout_s: float = 1.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.name = "redis"
        self.url = url
        self._password = password
        self.prefix = prefix
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Script] = {}

    # -- Backend ------------------------------------------------------------

    def open(self) -> None:
        # No PING here: the daemon starts while Redis is down and answers 503
        # until it is back, rather than refusing to start.
        client = redis.Redis.from_url(
            self.url,
            password=self._password,
            socket_connect_timeout=self.connect_timeout_s,
            socket_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._scripts = {
            name: client.register_script(getattr(lua, name))
            for name in (
                "ENQUEUE",
                "CLAIM",
                "ACK",
                "NACK",
                "BURY",
                "REPLAY",
                "DELETE_DEAD",
                "DEAD",
                "COUNTS",
            )
        }
        self._client = client

    def execute(self, batch: list[Command]) -> list[Any]:
        client = self._client
        if client is None:
            raise StoreUnavailable("redis: not open")
        pipe = client.pipeline(transaction=False)
        try:
            parsers = [self._add(pipe, command) for command in batch]
            replies = pipe.execute(raise_on_error=False)
        except _DOWN as exc:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {exc}") from exc
        finally:
            pipe.reset()
        outcomes: list[Any] = []
        for parse, reply in zip(parsers, replies, strict=True):
            if isinstance(reply, redis.RedisError):
                # OOM, READONLY, MISCONF...: this command did not happen.
                outcomes.append(StoreUnavailable(f"redis: {reply}"))
            else:
                outcomes.append(parse(reply))
        return outcomes

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(redis.RedisError):
                self._client.close()
            self._client = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "url": redacted(self.url), "prefix": self.prefix}

    # -- keys -----------------------------------------------------------------

    def _q(self, queue: str, part: str) -> str:
        return f"{self.prefix}:q:{{{queue}}}:{part}"

    def _item_prefix(self, queue: str) -> str:
        return self._q(queue, "i:")

    # -- commands -------------------------------------------------------------

    def _add(self, pipe: Any, command: Command) -> Parse:
        script = self._scripts
        if isinstance(command, ClaimKey):
            pipe.set(f"{self.prefix}:dedup:{command.key}", b"1", nx=True, px=_ms(command.ttl_s))
            return bool
        if isinstance(command, Enqueue):
            item = command.item
            dedup = f"{self.prefix}:dedup:{command.dedup_key}" if command.dedup_key else ""
            script["ENQUEUE"](
                keys=[
                    self._q(command.queue, "ready"),
                    f"{self.prefix}:queues",
                    self._q(command.queue, "seq"),
                    dedup,
                ],
                args=[
                    command.queue,
                    item.id,
                    item.payload,
                    item.source,
                    msgspec.json.encode(item.meta),
                    _ms(item.not_before),
                    max(1, _ms(command.dedup_ttl_s)),
                    self._item_prefix(command.queue),
                ],
                client=pipe,
            )
            return lambda reply: EnqueueResult(id=item.id, duplicate=reply != 1)
        if isinstance(command, Claim):
            script["CLAIM"](
                keys=self._lease_keys(command.queue),
                args=[_ms(command.lease_s), command.token, self._item_prefix(command.queue)],
                client=pipe,
            )
            return lambda reply: self._lease(command, reply)
        if isinstance(command, Ack):
            item_key = self._item_prefix(command.queue) + command.id
            script["ACK"](
                keys=self._lease_keys(command.queue)[1:],
                args=[command.id, command.token, item_key],
                client=pipe,
            )
            return _held(command.queue, command.id)
        if isinstance(command, Nack):
            item_key = self._item_prefix(command.queue) + command.id
            script["NACK"](
                keys=[*self._lease_keys(command.queue)[1:], self._q(command.queue, "ready")],
                args=[command.id, command.token, item_key, _ms(command.retry_at), command.error],
                client=pipe,
            )
            return _held(command.queue, command.id)
        if isinstance(command, Bury):
            item_key = self._item_prefix(command.queue) + command.id
            script["BURY"](
                keys=[*self._lease_keys(command.queue)[1:], self._q(command.queue, "dead")],
                args=[command.id, command.token, item_key, command.error],
                client=pipe,
            )
            return _held(command.queue, command.id)
        if isinstance(command, ListDead | GetDead):
            by_id = command.id if isinstance(command, GetDead) else ""
            after = command.after if isinstance(command, ListDead) else 0
            limit = command.limit + 1 if isinstance(command, ListDead) else 1
            script["DEAD"](
                keys=[self._q(command.queue, "dead")],
                args=[self._item_prefix(command.queue), after, limit, by_id],
                client=pipe,
            )
            return lambda reply: self._dead(command, reply)
        if isinstance(command, ReplayDead | ReplayAllDead):
            by_id = command.id if isinstance(command, ReplayDead) else ""
            limit = command.limit if isinstance(command, ReplayAllDead) else 1
            script["REPLAY"](
                keys=[self._q(command.queue, "dead"), self._q(command.queue, "ready")],
                args=[self._item_prefix(command.queue), limit, by_id],
                client=pipe,
            )
            if isinstance(command, ReplayAllDead):
                return int
            return _found(command.queue, command.id)
        if isinstance(command, DeleteDead):
            script["DELETE_DEAD"](
                keys=[self._q(command.queue, "dead")],
                args=[command.id, self._item_prefix(command.queue) + command.id],
                client=pipe,
            )
            return _found(command.queue, command.id)
        if isinstance(command, Counts):
            script["COUNTS"](
                keys=[
                    *self._lease_keys(command.queue)[:2],
                    self._q(command.queue, "dead"),
                ],
                client=pipe,
            )
            return lambda reply: QueueCounts(*(int(n) for n in reply))
        if isinstance(command, Queues):
            pipe.smembers(f"{self.prefix}:queues")
            return lambda reply: sorted(name.decode() for name in reply)
        if isinstance(command, KvGet):
            pipe.get(f"{self.prefix}:kv:{command.key}")
            return lambda reply: None if reply is None else bytes(reply)
        if isinstance(command, KvPut):
            px = None if command.ttl_s is None else max(1, _ms(command.ttl_s))
            pipe.set(f"{self.prefix}:kv:{command.key}", command.value, px=px)
            return lambda reply: None
        pipe.delete(f"{self.prefix}:kv:{command.key}")
        return lambda reply: reply == 1

    def _lease_keys(self, queue: str) -> list[str]:
        return [self._q(queue, "ready"), self._q(queue, "leased"), self._q(queue, "tokens")]

    def _lease(self, command: Claim, reply: Any) -> Lease | None:
        if reply is None:
            return None
        item_id, expires_ms, *flat = reply
        fields = _fields(flat)
        item = QueueItem(
            id=item_id.decode(),
            queue=command.queue,
            payload=fields[b"payload"],
            source=fields[b"source"].decode(),
            meta=msgspec.json.decode(fields[b"meta"], type=dict[str, str]),
            attempt=int(fields[b"attempt"]),
            enqueued_at=int(fields[b"enqueued_at"]) / 1000,
            last_error=_text(fields.get(b"last_error")),
        )
        return Lease(item=item, token=command.token, expires_at=int(expires_ms) / 1000)

    def _dead(self, command: ListDead | GetDead, reply: Any) -> Any:
        items = [_dead_item(command.queue, entry) for entry in reply]
        if isinstance(command, GetDead):
            if not items:
                return ItemNotFound(command.queue, command.id)
            return items[0]
        page = items[: command.limit]
        more = len(items) > command.limit
        return DeadLetterPage(items=page, next_cursor=page[-1].cursor if more else None)


def _fields(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _dead_item(queue: str, entry: list[Any]) -> DeadLetterItem:
    item_id, flat = entry
    fields = _fields(flat)
    return DeadLetterItem(
        id=item_id.decode(),
        queue=queue,
        payload=fields[b"payload"],
        source=fields[b"source"].decode(),
        meta=msgspec.json.decode(fields[b"meta"], type=dict[str, str]),
        attempts=int(fields[b"attempt"]),
        enqueued_at=int(fields[b"enqueued_at"]) / 1000,
        dead_at=int(fields[b"dead_at"]) / 1000,
        last_error=_text(fields.get(b"last_error")),
        cursor=int(fields[b"seq"]),
    )


def _held(queue: str, item_id: str) -> Parse:
    return lambda reply: None if reply == 1 else LeaseLost(queue, item_id)


def _found(queue: str, item_id: str) -> Parse:
    return lambda reply: None if reply >= 1 else ItemNotFound(queue, item_id)
