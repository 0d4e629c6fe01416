"""The store as the rest of the daemon sees it: typed calls over two store actors."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ..runtime import (
    ActorError,
    ActorRef,
    ActorSpec,
    Backoff,
    Refs,
    Restart,
    Strategy,
    SupervisorSpec,
)
from ._actor import StoreActor
from ._backend import BackendFactory, Role
from ._commands import (
    WRITES,
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
from ._errors import LeaseLost, LockBusy, StoreError, StoreUnavailable
from ._eventlog import (
    UNROUTED,
    AddDeliveries,
    Delivery,
    EventPage,
    EventRecord,
    GetEvent,
    ListEvents,
    Publish,
)
from ._types import (
    DEFAULT_KEEP_S,
    Claimed,
    DeadLetterItem,
    DeadLetterPage,
    EnqueueResult,
    Lease,
    NewItem,
    QueueCounts,
)


class Store:
    """Dedup keys, durable queues and key-value state, on sqlite or Redis.

    Every call is an ask to a store actor: writes go to the writer (batched
    into shared commits), reads to the reader (which never waits for the
    writer). A call that returns has been carried out durably; a call that
    raises :class:`StoreUnavailable` may or may not have been (the backend
    failed mid-batch), and the caller retries or answers 503, never treats it
    as done. Every failure of the machinery in between (a timeout, a crashed
    or stopped store actor) is reported as :class:`StoreUnavailable` too.
    """

    def __init__(
        self, writer: ActorRef[Command], reader: ActorRef[Command], *, timeout_s: float = 5.0
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._timeout_s = timeout_s

    @classmethod
    def at(cls, refs: Refs, path: str, *, timeout_s: float = 5.0) -> Store:
        """The store whose supervisor is at ``path`` (see :func:`store_spec`)."""
        writer, reader = refs.actor_ref(f"{path}/writer"), refs.actor_ref(f"{path}/reader")
        return cls(writer, reader, timeout_s=timeout_s)

    async def _call(self, command: Command) -> Any:
        ref = self._writer if isinstance(command, WRITES) else self._reader
        try:
            return await ref.ask(command, timeout=self._timeout_s)
        except StoreError:
            raise
        except ActorError as exc:
            raise StoreUnavailable(f"store did not answer: {exc}") from exc

    # -- dedup ---------------------------------------------------------------

    async def claim_key(self, key: str, ttl_s: float) -> bool:
        """True if ``key`` is seen for the first time (and now held for ``ttl_s``).

        Atomic across callers and, with Redis, across replicas: while the key
        lives, every other claimer gets False.
        """
        result: bool = await self._call(ClaimKey(key, ttl_s))
        return result

    # -- queues ---------------------------------------------------------------

    async def enqueue(
        self,
        queue: str,
        item: NewItem,
        *,
        dedup_key: str | None = None,
        dedup_ttl_s: float = DEFAULT_KEEP_S,
    ) -> EnqueueResult:
        """Store ``item`` durably in ``queue``; with ``dedup_key``, only if the key is new.

        The dedup claim and the enqueue are one atomic step: there is no
        moment where the key is taken and the item not stored.
        """
        result: EnqueueResult = await self._call(Enqueue(queue, item, dedup_key, dedup_ttl_s))
        return result

    async def claim(self, queue: str, lease_s: float) -> Lease | None:
        """Lease the next ready item for ``lease_s`` seconds, or None if there is none."""
        claimed = await self.claim_many(queue, lease_s=lease_s, limit=1)
        return claimed.leases[0] if claimed.leases else None

    async def claim_many(self, queue: str, *, lease_s: float, limit: int) -> Claimed:
        """Lease up to ``limit`` ready items in one step, oldest due first.

        The answer also says when the queue's next waiting item becomes due,
        so a worker that got less than it asked for knows how long it may sleep.
        """
        claimed: Claimed = await self._call(Claim(queue, lease_s, secrets.token_hex(16), limit))
        return claimed

    async def settle(self, settlements: list[Settlement]) -> list[LeaseLost | None]:
        """End many leases in one commit, with their event log updates.

        Returns, in order, None for each settlement carried out and a
        :class:`LeaseLost` for each whose lease was no longer held (that one
        changed nothing, its log update included).
        """
        if not settlements:
            return []
        outcomes: list[LeaseLost | None] = await self._call(Settle(settlements))
        return outcomes

    async def release(self, lease: Lease, *, retry_at: float = 0.0) -> None:
        """Give the item back untried: claimable again at ``retry_at``, its attempt not spent.

        :class:`LeaseLost` if the lease was lost.
        """
        settlement = Settlement(lease.item.queue, lease.item.id, lease.token, "release", retry_at)
        [outcome] = await self.settle([settlement])
        if outcome is not None:
            raise outcome

    async def expedite(self, queue: str, item_id: str) -> bool:
        """Make a delayed item claimable now; False if it was due, leased or held already.

        :class:`ItemNotFound` if the queue holds no live item with that id.
        """
        moved: bool = await self._call(Expedite(queue, item_id))
        return moved

    async def ack(self, lease: Lease) -> None:
        """The item is done: remove it. :class:`LeaseLost` if the lease was lost."""
        await self._call(Ack(lease.item.queue, lease.item.id, lease.token))

    async def nack(self, lease: Lease, error: str, retry_at: float) -> None:
        """Give the item back with ``error``, claimable again at unix time ``retry_at``."""
        await self._call(Nack(lease.item.queue, lease.item.id, lease.token, error, retry_at))

    async def bury(self, lease: Lease, error: str) -> None:
        """Move the item to its queue's dead letters, with the error that ended it."""
        await self._call(Bury(lease.item.queue, lease.item.id, lease.token, error))

    async def counts(self, queue: str) -> QueueCounts:
        counts: QueueCounts = await self._call(Counts(queue))
        return counts

    async def queues(self) -> list[str]:
        """Queues that hold at least one item, in any state."""
        names: list[str] = await self._call(Queues())
        return names

    # -- the event log -----------------------------------------------------------

    async def publish(
        self,
        namespace: str,
        event_id: str,
        event_type: str,
        payload: bytes,
        deliveries: list[Delivery],
        *,
        meta: dict[str, str] | None = None,
        retention_s: float = DEFAULT_KEEP_S,
        dedup_key: str | None = None,
        dedup_ttl_s: float = DEFAULT_KEEP_S,
        empty_status: str = UNROUTED,
    ) -> EnqueueResult:
        """Log the event and enqueue one item per delivery, in one atomic step.

        With ``dedup_key``, nothing is stored if the key is live (a
        duplicate); an event id the namespace already holds is a duplicate
        too. Each delivery's item has the event's id, payload and metadata
        (plus ``type``), with ``namespace`` as its source.
        """
        result: EnqueueResult = await self._call(
            Publish(
                namespace,
                event_id,
                event_type,
                payload,
                meta or {},
                deliveries,
                retention_s,
                dedup_key,
                dedup_ttl_s if dedup_key is not None else 0.0,
                empty_status,
            )
        )
        return result

    async def add_deliveries(self, record: EventRecord, deliveries: list[Delivery]) -> list[str]:
        """Send a logged event to more destinations; return those it did not have yet.

        For an event that went nowhere (``unrouted``) once a route exists. The
        items carry the record's payload and metadata, as ``publish`` would
        have given them. :class:`ItemNotFound` if the event is no longer kept.
        """
        meta = {**record.meta, "type": record.type}
        added: list[str] = await self._call(
            AddDeliveries(record.namespace, record.id, record.payload, meta, deliveries)
        )
        return added

    async def events(
        self,
        namespace: str,
        *,
        limit: int = 50,
        cursor: int | None = None,
        status: str = "",
        event_type: str = "",
        destination: str = "",
    ) -> EventPage:
        """The namespace's events, newest first, filtered; continue from ``next_cursor``."""
        page: EventPage = await self._call(
            ListEvents(namespace, limit, cursor or 0, status, event_type, destination)
        )
        return page

    async def event(self, namespace: str, event_id: str) -> EventRecord:
        """One event with payload and attempts; :class:`ItemNotFound` if not (or no longer) kept."""
        record: EventRecord = await self._call(GetEvent(namespace, event_id))
        return record

    # -- dead letters -----------------------------------------------------------

    async def dead_letters(
        self, queue: str, *, limit: int = 50, cursor: int | None = None
    ) -> DeadLetterPage:
        """Dead letters of ``queue``, oldest first, ``limit`` at a time from ``cursor``."""
        page: DeadLetterPage = await self._call(ListDead(queue, limit, cursor or 0))
        return page

    async def dead_letter(self, queue: str, item_id: str) -> DeadLetterItem:
        """One dead letter; :class:`ItemNotFound` if it is not (or no longer) dead."""
        item: DeadLetterItem = await self._call(GetDead(queue, item_id))
        return item

    async def replay(self, queue: str, item_id: str) -> None:
        """Put a dead letter back in its queue, ready now, with its attempts reset."""
        await self._call(ReplayDead(queue, item_id))

    async def replay_all(self, queue: str, *, limit: int = 1000) -> int:
        """Replay up to ``limit`` dead letters of ``queue``, oldest first; return how many."""
        moved: int = await self._call(ReplayAllDead(queue, limit))
        return moved

    async def delete_dead_letter(self, queue: str, item_id: str) -> None:
        await self._call(DeleteDead(queue, item_id))

    # -- key-value ---------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._call(KvGet(key))
        return value

    async def put(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        await self._call(KvPut(key, value, ttl_s))

    async def put_if_absent(self, key: str, value: bytes, *, ttl_s: float) -> bool:
        """Set ``key`` unless it holds a live value; whether it was set (a lock, on every
        replica at once). ``delete`` releases it; ``ttl_s`` frees it if its holder dies."""
        stored: bool = await self._call(KvPut(key, value, ttl_s, if_absent=True))
        return stored

    # -- shared rate budgets -------------------------------------------------------

    async def reserve(
        self, key: str, *, interval_s: float, tolerance_s: float, wait: bool = True
    ) -> tuple[bool, float]:
        """A slot in the GCRA budget ``key``, shared by every replica on Redis (server clock).

        Slots are ``interval_s`` apart with ``tolerance_s`` of burst. Returns
        (granted, seconds to wait before going); not granted only when
        ``wait`` is false and the slot is not free now, with nothing taken.
        """
        granted, delay = await self._call(Reserve(key, interval_s, tolerance_s, wait))
        return bool(granted), float(delay)

    async def hold(self, key: str, seconds: float) -> None:
        """No slot of budget ``key`` goes for ``seconds``, on any replica."""
        await self._call(Hold(key, seconds))

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl_s: float, wait_s: float, poll_s: float = 0.02
    ) -> AsyncIterator[None]:
        """Hold ``key`` as a lock across replicas for the block: a ``put_if_absent`` with
        an owner value, freed by compare-and-delete (or by itself after ``ttl_s``, if
        this replica dies). :class:`LockBusy` after ``wait_s`` of trying.

        The holder may be another replica, so no event can wake a waiter: it polls.
        The deadline is checked between tries, never a cancel around one: a put cut
        off after it took the lock would leave the lock held.
        """
        owner = secrets.token_hex(8).encode()
        deadline = trio.current_time() + wait_s
        while not await self.put_if_absent(key, owner, ttl_s=ttl_s):
            if trio.current_time() >= deadline:
                raise LockBusy(f"{key} is held elsewhere; try again")
            await trio.sleep(poll_s)
        try:
            yield
        finally:
            # Only our own lock (after an expiry another may hold it), and even
            # when the block is being cancelled.
            with trio.CancelScope(shield=True):
                await self.delete(key, if_value=owner)

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        """Remove ``key``; False if it was not there (or had expired). With ``if_value``,
        only while it holds that value (a lock released by its owner), in one step."""
        deleted: bool = await self._call(KvDelete(key, if_value))
        return deleted

    async def keys(self, prefix: str, *, cursor: str = "", limit: int = 100) -> KeyPage:
        """Live keys starting with ``prefix``, a page at a time (see :class:`KeyPage`)."""
        page: KeyPage = await self._call(KvKeys(prefix, cursor, limit))
        return page

    # -- websocket topics (Redis) -------------------------------------------------

    async def topic_publish(self, topic: str, data: bytes, *, size: int, ttl_s: float) -> int:
        """Put the JSON ``data`` on ``topic`` for every replica; its offset back."""
        offset: int = await self._call(TopicPublish(topic, data, size, ttl_s))
        return offset

    async def topic_history(self, topic: str) -> TopicLog:
        log: TopicLog = await self._call(TopicHistory(topic))
        return log


#: Where ``store_spec`` sits in the daemon's tree (the root's first child).
STORE_PATH = "/root/store"


def store_spec(
    make_backend: BackendFactory,
    *,
    name: str = "store",
    mailbox_capacity: int = 10_000,
    max_batch: int = 512,
    shutdown_timeout_s: float = 10.0,
    max_restarts: int = 5,
    within_s: float = 10.0,
    backoff: Backoff | None = None,
) -> SupervisorSpec:
    """The store's subtree: a ``writer`` and a ``reader`` actor, each with its own backend.

    ``make_backend(role)`` builds a fresh backend for ``"writer"`` or
    ``"reader"`` at each (re)start. The writer starts first, so the reader
    finds the schema in place; they restart independently.
    """

    def actor(role: Role) -> ActorSpec:
        return ActorSpec(
            role,
            lambda: StoreActor(make_backend(role), max_batch=max_batch),
            restart=Restart.PERMANENT,
            mailbox_capacity=mailbox_capacity,
            shutdown_timeout_s=shutdown_timeout_s,
            # A command that crashes the backend code is a bug; never retry it forever.
            max_message_crashes=2,
        )

    return SupervisorSpec(
        name,
        children=[actor("writer"), actor("reader")],
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=max_restarts,
        within_s=within_s,
        backoff=backoff or Backoff(),
    )
