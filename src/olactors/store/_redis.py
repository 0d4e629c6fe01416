"""The shared backend: Redis, so that several daemons behind a load balancer share state."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError
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
    Expedite,
    GetDead,
    Hold,
    KeyPage,
    KvDelete,
    KvGet,
    KvKeys,
    KvPut,
    ListDead,
    Nack,
    Queues,
    ReplayAllDead,
    ReplayDead,
    Reserve,
    Settle,
    Settlement,
    TopicHistory,
    TopicLog,
    TopicPublish,
)
from ._errors import ItemNotFound, LeaseLost, StoreError, StoreUnavailable
from ._eventlog import (
    AddDeliveries,
    Attempt,
    Delivery,
    EventPage,
    EventRecord,
    EventSummary,
    GetEvent,
    ListEvents,
    Publish,
)
from ._types import (
    Claimed,
    DeadLetterItem,
    DeadLetterPage,
    EnqueueResult,
    Lease,
    QueueCounts,
    QueueItem,
)

#: Turns one pipeline reply into the command's outcome (a value or an error instance).
Parse = Callable[[Any], Any]

# Any failure of the pipeline as a whole means "Redis cannot serve us right
# now": down, still loading its data after a restart, a failover, a protocol
# error. The batch is not acknowledged; the actor backs off and retries.
_UNAVAILABLE = (redis.RedisError, OSError)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


#: How many index entries one filtered listing looks at before it returns a
#: (possibly short) page with a cursor to go on from.
_EVENTS_SCAN = 2000

_attempt = msgspec.json.Decoder(Attempt)
_meta = msgspec.json.Decoder(dict[str, str])


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

    Every command is one call (a native command or a script by its SHA), so
    replies map one to one. The client does not retry on its own (a retried
    pipeline could apply twice): a failed batch raises
    :class:`StoreUnavailable` and the store actor backs off, which is what
    reconnecting with back-off amounts to. Scripts are sent by SHA; those a
    Redis restart lost answer NOSCRIPT without running, and only those are
    loaded and sent again (no SCRIPT EXISTS round trip per batch).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "olactors",
        password: str | None = None,
        connect_timeout_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        self.name = "redis"
        self.url = url
        self._password = password
        self.prefix = prefix
        self.connect_timeout_s = connect_timeout_s
        # Kept below the store's ask timeout, so that a batch that cannot
        # finish fails before its askers give up on it.
        self.timeout_s = timeout_s
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Script] = {}
        #: How each command is queued on a pipeline, by its type.
        self._adders: dict[type[Any], Callable[[Any, Any], Parse]] = {
            ClaimKey: self._add_claim_key,
            Enqueue: self._add_enqueue,
            Publish: self._add_publish,
            Claim: self._add_claim,
            Ack: self._add_settlement,
            Nack: self._add_settlement,
            Bury: self._add_settlement,
            Settle: self._add_settlement,
            Expedite: self._add_expedite,
            ListEvents: self._add_list_events,
            AddDeliveries: self._add_add_deliveries,
            GetEvent: self._add_get_event,
            ListDead: self._add_read_dead,
            GetDead: self._add_read_dead,
            ReplayDead: self._add_replay_dead,
            ReplayAllDead: self._add_replay_dead,
            DeleteDead: self._add_delete_dead,
            Counts: self._add_counts,
            Queues: self._add_queues,
            Reserve: self._add_reserve,
            Hold: self._add_hold,
            KvGet: self._add_kv_get,
            KvPut: self._add_kv_put,
            KvDelete: self._add_kv_delete,
            KvKeys: self._add_kv_keys,
            TopicPublish: self._add_topic_publish,
            TopicHistory: self._add_topic_history,
        }

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
        self._scripts = {name: client.register_script(text) for name, text in lua.ALL.items()}
        self._client = client

    def execute(self, batch: list[Command]) -> list[Any]:
        client = self._client
        if client is None:
            raise StoreUnavailable("redis: not open")
        try:
            parsers, replies = self._send(client, batch)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:
                # Those did not run: load every script, then send just them again.
                for script in self._scripts.values():
                    script.sha = client.script_load(script.script)
                again, retried = self._send(client, [batch[i] for i in missing])
                for i, parse, reply in zip(missing, again, retried, strict=True):
                    parsers[i], replies[i] = parse, reply
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {exc}") from exc
        return [
            _outcome(command, parse, reply)
            for command, parse, reply in zip(batch, parsers, replies, strict=True)
        ]

    def _send(self, client: redis.Redis, batch: list[Command]) -> tuple[list[Parse], list[Any]]:
        pipe = client.pipeline(transaction=False)
        try:
            parsers = [self._add(pipe, command) for command in batch]
            replies: list[Any] = pipe.execute(raise_on_error=False)
        finally:
            pipe.reset()
        return parsers, replies

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

    @property
    def wake_channel(self) -> str:
        """Where every new, replayed or expedited item's queue name is published."""
        return f"{self.prefix}:wake"

    def _base(self, queue: str) -> str:
        """What the scripts build a queue's keys from."""
        return self._q(queue, "")

    def _events(self, namespace: str) -> str:
        return f"{self.prefix}:e:{{{namespace}}}:"

    def _event(self, namespace: str, event_id: str) -> str:
        return f"{self._events(namespace)}ev:{event_id}"

    def _settlement_args(self, s: Settlement) -> list[Any]:
        event = self._event(s.namespace, s.event or s.id) if s.namespace else ""
        attempt = msgspec.json.encode(s.attempt) if s.attempt is not None else b""
        return [
            self._base(s.queue),
            s.id,
            s.token,
            s.action,
            _ms(s.retry_at),
            s.error,
            event,
            s.destination,
            attempt,
        ]

    # -- commands -------------------------------------------------------------

    def _script(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)

    def _add(self, pipe: Any, command: Command) -> Parse:
        """Queue ``command`` on ``pipe``; return what reads its reply."""
        adder = self._adders.get(type(command))
        if adder is None:
            raise TypeError(f"no redis command for {type(command).__name__}")
        return adder(pipe, command)

    def _add_claim_key(self, pipe: Any, command: ClaimKey) -> Parse:
        px = max(1, _ms(command.ttl_s))
        pipe.set(f"{self.prefix}:dedup:{command.key}", b"1", nx=True, px=px)
        return bool

    def _add_enqueue(self, pipe: Any, command: Enqueue) -> Parse:
        script = self._script
        item, queue = command.item, command.queue
        keyed = command.dedup_key is not None
        script(
            pipe,
            "ENQUEUE",
            [
                f"{self.prefix}:queues",
                f"{self.prefix}:dedup:{command.dedup_key if keyed else ''}",
            ],
            [
                queue,
                item.id,
                item.payload,
                item.source,
                msgspec.json.encode(item.meta),
                _ms(item.not_before),
                max(1, _ms(command.dedup_ttl_s)),
                self._base(queue),
                "1" if keyed else "0",
                item.order_key,
                self.wake_channel,
            ],
        )
        return lambda reply: EnqueueResult(id=item.id, duplicate=reply != 1)

    def _add_publish(self, pipe: Any, command: Publish) -> Parse:
        script = self._script
        item_meta = {**command.meta, "type": command.event_type}
        deliveries = _flat(command.id, item_meta, command.deliveries)
        script(
            pipe,
            "PUBLISH",
            [],
            [
                self.prefix,
                command.namespace,
                command.id,
                command.event_type,
                command.payload,
                msgspec.json.encode(command.meta),
                msgspec.json.encode(item_meta),
                max(1, _ms(command.retention_s)),
                command.dedup_key or "",
                max(1, _ms(command.dedup_ttl_s)),
                command.empty_status,
                len(command.deliveries),
                *deliveries,
            ],
        )
        return lambda reply: EnqueueResult(id=command.id, duplicate=reply != 1)

    def _add_claim(self, pipe: Any, command: Claim) -> Parse:
        script = self._script
        script(
            pipe,
            "CLAIM",
            [],
            [
                self._base(command.queue),
                max(1, _ms(command.lease_s)),
                command.token,
                command.limit,
            ],
        )
        return lambda reply: self._claimed(command, reply)

    def _add_settlement(self, pipe: Any, command: Ack | Nack | Bury | Settle) -> Parse:
        script = self._script
        if isinstance(command, Settle):
            settlements = command.settlements
        else:
            settlements = [_as_settlement(command)]
        args: list[Any] = [len(settlements)]
        for settlement in settlements:
            args += self._settlement_args(settlement)
        script(pipe, "SETTLE", [], args)
        held = [_held(s.queue, s.id) for s in settlements]
        if isinstance(command, Settle):
            return lambda reply: [h(r) for h, r in zip(held, reply, strict=True)]
        return lambda reply: held[0](reply[0])

    def _add_expedite(self, pipe: Any, command: Expedite) -> Parse:
        script = self._script
        script(
            pipe,
            "EXPEDITE",
            [],
            [self._base(command.queue), command.id, self.wake_channel, command.queue],
        )
        return lambda reply: ItemNotFound(command.queue, command.id) if reply < 0 else reply == 1

    def _add_list_events(self, pipe: Any, command: ListEvents) -> Parse:
        script = self._script
        script(
            pipe,
            "EVENTS",
            [],
            [
                self._events(command.namespace),
                command.before,
                command.limit,
                command.status,
                command.event_type,
                command.destination,
                _EVENTS_SCAN,
            ],
        )
        return lambda reply: _event_page(command.namespace, reply)

    def _add_add_deliveries(self, pipe: Any, command: AddDeliveries) -> Parse:
        script = self._script
        deliveries = _flat(command.id, command.item_meta, command.deliveries)
        script(
            pipe,
            "ROUTE",
            [],
            [
                self.prefix,
                command.namespace,
                command.id,
                command.payload,
                msgspec.json.encode(command.item_meta),
                len(command.deliveries),
                *deliveries,
            ],
        )
        return lambda reply: (
            ItemNotFound(command.namespace, command.id)
            if reply is None
            else [name.decode() for name in reply]
        )

    def _add_get_event(self, pipe: Any, command: GetEvent) -> Parse:
        script = self._script
        script(pipe, "EVENT", [], [self._event(command.namespace, command.id)])
        return lambda reply: _event_record(command, reply)

    def _add_read_dead(self, pipe: Any, command: ListDead | GetDead) -> Parse:
        script = self._script
        by_id = command.id if isinstance(command, GetDead) else ""
        after = command.after if isinstance(command, ListDead) else 0
        limit = command.limit + 1 if isinstance(command, ListDead) else 1
        script(
            pipe,
            "DEAD",
            [self._q(command.queue, "dead")],
            [self._item_prefix(command.queue), after, limit, by_id],
        )
        return lambda reply: self._dead(command, reply)

    def _add_replay_dead(self, pipe: Any, command: ReplayDead | ReplayAllDead) -> Parse:
        script = self._script
        by_id = command.id if isinstance(command, ReplayDead) else ""
        limit = command.limit if isinstance(command, ReplayAllDead) else 1
        script(
            pipe,
            "REPLAY",
            [],
            [self._base(command.queue), limit, by_id, self.wake_channel, command.queue],
        )
        if isinstance(command, ReplayAllDead):
            return int
        return _found(command.queue, command.id)

    def _add_delete_dead(self, pipe: Any, command: DeleteDead) -> Parse:
        script = self._script
        script(
            pipe,
            "DELETE_DEAD",
            [self._q(command.queue, "dead")],
            [command.id, self._item_prefix(command.queue) + command.id],
        )
        return _found(command.queue, command.id)

    def _add_counts(self, pipe: Any, command: Counts) -> Parse:
        script = self._script
        script(pipe, "COUNTS", [], [self._base(command.queue)])
        return lambda reply: QueueCounts(*(int(n) for n in reply))

    def _add_queues(self, pipe: Any, command: Queues) -> Parse:
        script = self._script
        script(pipe, "QUEUES", [f"{self.prefix}:queues"], [self.prefix])
        return lambda reply: sorted(name.decode() for name in reply)

    def _add_reserve(self, pipe: Any, command: Reserve) -> Parse:
        script = self._script
        script(
            pipe,
            "RESERVE",
            [f"{self.prefix}:budget:{command.key}", f"{self.prefix}:budget:{command.key}:hold"],
            [
                command.interval_s * 1000,
                command.tolerance_s * 1000,
                "1" if command.wait else "0",
            ],
        )
        return lambda reply: (reply[0] == b"1", max(0.0, float(reply[1]) / 1000))

    def _add_hold(self, pipe: Any, command: Hold) -> Parse:
        script = self._script
        script(
            pipe,
            "HOLD",
            [f"{self.prefix}:budget:{command.key}:hold"],
            [command.seconds * 1000],
        )
        return lambda reply: None

    def _add_kv_get(self, pipe: Any, command: KvGet) -> Parse:
        pipe.get(f"{self.prefix}:kv:{command.key}")
        return lambda reply: None if reply is None else bytes(reply)

    def _add_kv_put(self, pipe: Any, command: KvPut) -> Parse:
        ttl_ms = None if command.ttl_s is None else max(1, _ms(command.ttl_s))
        key = f"{self.prefix}:kv:{command.key}"
        pipe.set(key, command.value, px=ttl_ms, nx=command.if_absent)
        return lambda reply: bool(reply)

    def _add_kv_delete(self, pipe: Any, command: KvDelete) -> Parse:
        key = f"{self.prefix}:kv:{command.key}"
        if command.if_value is not None:
            self._script(pipe, "DELETE_IF", [key], [command.if_value])
        else:
            pipe.delete(key)
        return lambda reply: reply == 1

    def _add_kv_keys(self, pipe: Any, command: KvKeys) -> Parse:
        base = f"{self.prefix}:kv:"
        pattern = base + re.sub(r"([*?\[\]\\])", r"\\\1", command.prefix) + "*"
        pipe.scan(int(command.cursor or 0), match=pattern, count=command.limit)

        def page(reply: Any) -> KeyPage:
            cursor, found = reply
            keys = sorted(bytes(k).decode()[len(base) :] for k in found)
            return KeyPage(keys, None if int(cursor) == 0 else str(int(cursor)))

        return page

    @property
    def topic_channel(self) -> str:
        """Where every replica hears each topic frame: ``<topic> <offset> <frame>``."""
        return f"{self.prefix}:topics"

    def _topic_keys(self, topic: str) -> tuple[str, str]:
        base = f"{self.prefix}:t:{{{topic}}}"
        return f"{base}:offset", f"{base}:history"

    def _add_topic_publish(self, pipe: Any, command: TopicPublish) -> Parse:
        # The wall clock of the replica that publishes: a frame's age in the
        # history is read against the clocks of the others (NTP-close).
        now = time.time()
        self._script(
            pipe,
            "TOPIC_PUBLISH",
            list(self._topic_keys(command.topic)),
            [
                command.topic,
                command.data,
                command.size,
                max(1, _ms(command.ttl_s)),
                int(now * 1_000_000),
                self.topic_channel,
                int(now * 1000),
                _TOPIC_OFFSET_TTL_MS,
            ],
        )
        return lambda reply: int(reply)

    def _add_topic_history(self, pipe: Any, command: TopicHistory) -> Parse:
        keys = list(self._topic_keys(command.topic))
        now_us = int(time.time() * 1_000_000)
        self._script(pipe, "TOPIC_HISTORY", keys, [now_us, _TOPIC_OFFSET_TTL_MS])
        return _topic_log

    def _claimed(self, command: Claim, reply: Any) -> Claimed:
        next_due, expires_ms, taken = reply
        expires_at = int(expires_ms) / 1000
        leases = []
        for item_id, *flat in taken:
            fields = _fields(flat)
            item = QueueItem(
                id=item_id.decode(),
                queue=command.queue,
                payload=fields[b"payload"],
                source=fields[b"source"].decode(),
                meta=_meta.decode(fields[b"meta"]),
                attempt=int(fields[b"attempt"]),
                enqueued_at=int(fields[b"enqueued_at"]) / 1000,
                last_error=_text(fields.get(b"last_error")),
            )
            leases.append(Lease(item=item, token=command.token, expires_at=expires_at))
        due = float(next_due) / 1000 if next_due else None
        return Claimed(leases=leases, next_due=due)

    def _dead(self, command: ListDead | GetDead, reply: Any) -> Any:
        items = [_dead_item(command.queue, entry) for entry in reply]
        if isinstance(command, GetDead):
            if not items:
                return ItemNotFound(command.queue, command.id)
            return items[0]
        page = items[: command.limit]
        more = len(items) > command.limit
        return DeadLetterPage(items=page, next_cursor=page[-1].cursor if more else None)


def _outcome(command: Command, parse: Parse, reply: Any) -> Any:
    if isinstance(reply, redis.RedisError):
        # OOM, READONLY, MISCONF...: this command did not happen.
        return StoreUnavailable(f"redis: {reply}")
    try:
        return parse(reply)
    except Exception as exc:  # a reply we cannot read: an error for this command only
        return StoreError(f"unexpected redis reply to {type(command).__name__}: {exc!r}")


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


def _flat(event_id: str, meta: dict[str, str], deliveries: list[Delivery]) -> list[str | bytes]:
    """Deliveries as the scripts take them: queue, destination, order key, item id and
    item meta (both "" for the event's own), and again."""
    parts: list[str | bytes] = []
    for d in deliveries:
        own = msgspec.json.encode(d.item(event_id, meta)[1]) if d.item_id else b""
        parts += [d.queue, d.destination, d.order_key, d.item_id, own]
    return parts


def _as_settlement(command: Ack | Nack | Bury) -> Settlement:
    if isinstance(command, Ack):
        return Settlement(command.queue, command.id, command.token, "ack")
    if isinstance(command, Nack):
        return Settlement(
            command.queue, command.id, command.token, "nack", command.retry_at, command.error
        )
    return Settlement(command.queue, command.id, command.token, "bury", error=command.error)


def _states(flat: list[bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in _fields(flat).items()}


def _event_page(namespace: str, reply: Any) -> EventPage:
    cursor, found = reply
    items = [
        EventSummary(
            namespace=namespace,
            id=item_id.decode(),
            type=event_type.decode(),
            received_at=int(received_at) / 1000,
            status=status.decode(),
            destinations=_states(states),
            attempts=int(attempts),
            cursor=int(seq),
        )
        for item_id, seq, event_type, received_at, status, attempts, states in found
    ]
    return EventPage(items=items, next_cursor=int(cursor) or None)


def _event_record(command: GetEvent, reply: Any) -> EventRecord | ItemNotFound:
    if reply is None:
        return ItemNotFound(command.namespace, command.id)
    flat, states, attempts = reply
    fields = _fields(flat)
    return EventRecord(
        namespace=command.namespace,
        id=command.id,
        type=fields[b"type"].decode(),
        received_at=int(fields[b"received_at"]) / 1000,
        status=fields[b"status"].decode(),
        destinations=_states(states),
        payload=fields[b"payload"],
        meta=_meta.decode(fields[b"meta"]),
        attempts=[_attempt.decode(raw) for raw in attempts],
    )


def _held(queue: str, item_id: str) -> Parse:
    return lambda reply: None if reply == 1 else LeaseLost(queue, item_id)


def _found(queue: str, item_id: str) -> Parse:
    return lambda reply: None if reply >= 1 else ItemNotFound(queue, item_id)


#: A topic's offset outlives its history by far: a quiet topic that forgot
#: its offset would tell every returning client its history is lost.
_TOPIC_OFFSET_TTL_MS = 7 * 24 * 3600 * 1000


def _topic_log(reply: Any) -> TopicLog:
    last, kept = reply
    frames = []
    for entry in kept:
        offset, at_ms, frame = bytes(entry).split(b" ", 2)
        frames.append((int(offset), int(at_ms) / 1000, frame))
    return TopicLog(int(last), frames)
