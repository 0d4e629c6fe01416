"""The embedded backend: one sqlite file in WAL mode, fsync at every commit by default."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..runtime import Clock
from ..state import PRIVATE_DIR, private_file
from . import _sqlite_eventlog as eventlog
from ._backend import Role
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
    TopicPublish,
)
from ._errors import InvalidStoreCall, ItemNotFound, LeaseLost, StoreUnavailable
from ._eventlog import (
    DEAD,
    DELIVERED,
    PENDING,
    AddDeliveries,
    Delivery,
    GetEvent,
    ListEvents,
    Publish,
)
from ._reserve import DEFAULT_RESERVE_BYTES, DiskReserve
from ._sqlite_schema import HELD_AT, migrate
from ._types import (
    Claimed,
    DeadLetterItem,
    DeadLetterPage,
    EnqueueResult,
    Lease,
    NewItem,
    QueueCounts,
    QueueItem,
)

Synchronous = Literal["FULL", "NORMAL"]
_LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}

_ITEM_COLUMNS = "id, queue, payload, source, meta, attempt, enqueued_at, last_error"
_DEAD_COLUMNS = f"{_ITEM_COLUMNS}, dead_at, seq"

#: Expired dedup keys and kv entries are purged inside ordinary write batches,
#: a bounded slice at a time: every so often, and at every batch while a slice
#: comes back full (so purging keeps up with any rate of expiry).
_PURGE_EVERY_S = 10.0
_PURGE_LIMIT = 2000


class SqliteBackend:
    """Runs command batches on one sqlite connection.

    The ``writer`` runs each batch in one ``BEGIN IMMEDIATE`` transaction, so
    a batch costs one commit and, with ``synchronous=FULL``, one fsync of the
    WAL. The ``reader`` has its own connection: in WAL mode its reads never
    wait for the writer's transaction. Time comes from ``clock`` (unix
    seconds), read once per batch.
    """

    def __init__(
        self,
        path: Path,
        *,
        role: Role = "writer",
        synchronous: Synchronous = "FULL",
        busy_timeout_s: float = 2.0,
        clock: Clock = time.time,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
    ) -> None:
        self.name = "sqlite"
        self.path = path
        self.role = role
        self.synchronous = synchronous
        # Kept below the store's ask timeout, so a batch stuck on a lock fails
        # (StoreUnavailable, nothing written) before its askers give up on it.
        self.busy_timeout_s = busy_timeout_s
        self._clock = clock
        #: The writer's room on the disk for a full-disk recovery (see _reserve).
        self.reserve = DiskReserve(Path(f"{path}.reserve"), reserve_bytes)
        self._conn: sqlite3.Connection | None = None
        self._settings: dict[str, str] = {}
        self._last_purge = 0.0
        self._apply: dict[type[Any], Callable[[Any, float], Any]] = {
            ClaimKey: self._claim_key,
            Publish: self._publish,
            AddDeliveries: self._add_deliveries,
            Claim: self._claim,
            Settle: self._settle,
            Expedite: self._expedite,
            Ack: self._ack,
            Nack: self._nack,
            Bury: self._bury,
            ListEvents: lambda command, now: eventlog.list_events(self._db, command, now),
            GetEvent: lambda command, now: eventlog.get_event(self._db, command, now),
            ListDead: self._list_dead,
            GetDead: self._get_dead,
            ReplayDead: self._replay_dead,
            ReplayAllDead: self._replay_all_dead,
            DeleteDead: self._delete_dead,
            Counts: self._counts,
            Queues: self._queues,
            KvGet: self._kv_get,
            KvPut: self._kv_put,
            KvDelete: self._kv_delete,
            KvKeys: self._kv_keys,
            TopicPublish: self._topics,
            TopicHistory: self._topics,
            Reserve: self._reserve,
            Hold: self._hold,
        }

    # -- Backend ------------------------------------------------------------

    def open(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            if self.role == "writer":
                # The database holds payloads: only the daemon's user may read
                # it. A directory made here is private; one that exists is the
                # operator's, and left as it is. sqlite gives -wal and -shm the
                # database file's mode.
                self.path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
                private_file(self.path)
                for sidecar in ("-wal", "-shm"):
                    if (side := Path(f"{self.path}{sidecar}")).exists():
                        private_file(side)
                self.reserve.ensure()
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self.busy_timeout_s,
            )
            (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            (level,) = conn.execute("PRAGMA synchronous").fetchone()
            if self.role == "writer":
                migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            raise StoreUnavailable(f"sqlite {self.path}: cannot open: {exc}") from exc
        if mode != "wal":
            # Some filesystems refuse WAL and sqlite silently keeps another mode,
            # where readers would wait for the writer: refuse instead.
            conn.close()
            raise StoreUnavailable(f"sqlite {self.path}: WAL unavailable (journal mode {mode})")
        self._settings = {"journal_mode": mode, "synchronous": _LEVELS.get(level, str(level))}
        self._conn = conn

    def execute(self, batch: list[Command]) -> list[Any]:
        conn = self._conn
        if conn is None:
            raise StoreUnavailable(f"sqlite {self.path}: not open")
        try:
            conn.execute("BEGIN IMMEDIATE" if self.role == "writer" else "BEGIN")
            # Read the clock once the lock is ours: waiting for it must not
            # shorten the leases and TTLs this batch hands out.
            now = self._clock()
            try:
                outcomes = self._run_all(batch, now)
                if self.role == "writer" and now - self._last_purge >= _PURGE_EVERY_S:
                    self._purge(now)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if self.role == "writer" and _disk_full(exc):
                self.reserve.release()
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        if self.role == "writer":
            self.reserve.restore_if_due(now)
        return outcomes

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def describe(self) -> dict[str, Any]:
        # What the connection reports, not what was asked for.
        return {"backend": self.name, "role": self.role, "path": str(self.path), **self._settings}

    # -- commands -------------------------------------------------------------

    def _run_all(self, batch: list[Command], now: float) -> list[Any]:
        """Run commands in order; a run of consecutive enqueues runs as one bulk step."""
        outcomes: list[Any] = []
        run: list[Enqueue] = []
        for command in batch:
            if isinstance(command, Enqueue):
                run.append(command)
                continue
            if run:
                outcomes += self._enqueue_many(run, now)
                run = []
            outcomes.append(self._run(command, now))
        if run:
            outcomes += self._enqueue_many(run, now)
        return outcomes

    def _run(self, command: Command, now: float) -> Any:
        try:
            return self._apply[type(command)](command, now)
        except (LeaseLost, ItemNotFound) as exc:
            return exc

    @property
    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _claim_key(self, command: ClaimKey, now: float) -> bool:
        return self._take_key(command.key, now + command.ttl_s, now)

    def _take_key(self, key: str, expires_at: float, now: float) -> bool:
        # Inserted, or took over an expired key: first seen. Otherwise a duplicate.
        cursor = self._db.execute(
            "INSERT INTO dedup (key, expires_at) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
            "WHERE dedup.expires_at <= ?",
            (key, expires_at, now),
        )
        return cursor.rowcount == 1

    def _enqueue_many(self, commands: list[Enqueue], now: float) -> list[EnqueueResult]:
        """Enqueue in bulk: two lookups and two multi-row inserts, whatever the count.

        The same outcome as one command at a time, in order: a live dedup key
        (or one taken earlier in this run) makes a duplicate; so does an id
        already stored. The ingress hot path is mostly this.
        """
        db = self._db
        keys = [c.dedup_key for c in commands if c.dedup_key is not None]
        taken = set(
            _present(db, "SELECT key FROM dedup WHERE expires_at > ? AND key IN", keys, now)
        )
        stored: set[tuple[str, str]] = set()
        for queue in {c.queue for c in commands}:
            ids = [c.item.id for c in commands if c.queue == queue]
            found = _present(db, "SELECT id FROM items WHERE queue = ? AND id IN", ids, queue)
            stored.update((queue, item_id) for item_id in found)
        results: list[EnqueueResult] = []
        key_rows: list[tuple[str, float]] = []
        item_rows: list[tuple[Any, ...]] = []
        lines: dict[tuple[str, str], bool] = {}
        for command in commands:
            item = command.item
            if command.dedup_key is not None:
                if command.dedup_key in taken:
                    results.append(EnqueueResult(id=item.id, duplicate=True))
                    continue
                taken.add(command.dedup_key)
                key_rows.append((command.dedup_key, now + command.dedup_ttl_s))
            if (command.queue, item.id) in stored:
                results.append(EnqueueResult(id=item.id, duplicate=True))
                continue
            stored.add((command.queue, item.id))
            item_rows.append(self._row(command.queue, item, now, lines))
            results.append(EnqueueResult(id=item.id, duplicate=False))
        # Keys found live were skipped above; an expired one is taken over.
        db.executemany(
            "INSERT INTO dedup (key, expires_at) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at",
            key_rows,
        )
        self._insert(item_rows)
        return results

    def _row(
        self, queue: str, item: NewItem, now: float, lines: dict[tuple[str, str], bool]
    ) -> tuple[Any, ...]:
        """The row for ``item``; held if its order key already has a live item.

        ``lines`` remembers, for this batch, the keys known to have one (rows
        are inserted together at the end, so the table does not show them yet).
        """
        held = False
        if item.order_key:
            line = (queue, item.order_key)
            if line not in lines:
                lines[line] = self._line_busy(queue, item.order_key)
            held, lines[line] = lines[line], True
        return (
            item.id,
            queue,
            HELD_AT if held else max(now, item.not_before),
            item.source,
            msgspec.json.encode(item.meta),
            item.payload,
            now,
            item.order_key,
            int(held),
        )

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        self._db.executemany(
            "INSERT INTO items (id, queue, available_at, source, meta, payload, enqueued_at, "
            "order_key, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (queue, id) DO NOTHING",
            rows,
        )

    def _line_busy(self, queue: str, order_key: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM items WHERE queue = ? AND order_key = ? AND dead = 0 LIMIT 1",
            (queue, order_key),
        ).fetchone()
        return row is not None

    def _publish(self, command: Publish, now: float) -> EnqueueResult:
        duplicate = EnqueueResult(id=command.id, duplicate=True)
        if command.dedup_key is not None and not self._take_key(
            command.dedup_key, now + command.dedup_ttl_s, now
        ):
            return duplicate
        if not eventlog.insert_event(self._db, command, now):
            return duplicate
        meta = {**command.meta, "type": command.event_type}
        self._deliver(command.namespace, command.id, command.payload, meta, command.deliveries, now)
        return EnqueueResult(id=command.id, duplicate=False)

    def _add_deliveries(self, command: AddDeliveries, now: float) -> list[str]:
        names = [d.destination for d in command.deliveries]
        added = eventlog.add_destinations(self._db, command.namespace, command.id, names, now)
        new = [d for d in command.deliveries if d.destination in added]
        self._deliver(command.namespace, command.id, command.payload, command.item_meta, new, now)
        return added

    def _deliver(
        self,
        namespace: str,
        event_id: str,
        payload: bytes,
        meta: dict[str, str],
        deliveries: list[Delivery],
        now: float,
    ) -> None:
        """One item per delivery: the event's id, payload and metadata, in its queue."""
        lines: dict[tuple[str, str], bool] = {}
        rows = []
        for delivery in deliveries:
            item_id, item_meta = delivery.item(event_id, meta)
            item = NewItem(
                payload=payload,
                id=item_id,
                source=namespace,
                meta=item_meta,
                order_key=delivery.order_key,
            )
            rows.append(self._row(delivery.queue, item, now, lines))
        self._insert(rows)

    def _claim(self, command: Claim, now: float) -> Claimed:
        db = self._db
        expires_at = now + command.lease_s
        seqs = [
            seq
            for (seq,) in db.execute(
                "SELECT seq FROM items WHERE queue = ? AND dead = 0 AND available_at <= ? "
                "ORDER BY available_at, seq LIMIT ?",
                (command.queue, now, command.limit),
            )
        ]
        leases: list[Lease] = []
        if seqs:
            marks = ",".join("?" * len(seqs))
            rows = db.execute(
                "UPDATE items SET lease_token = ?, available_at = ?, attempt = attempt + 1 "  # noqa: S608
                f"WHERE seq IN ({marks}) RETURNING seq, {_ITEM_COLUMNS}",
                (command.token, expires_at, *seqs),
            ).fetchall()
            by_seq = {row[0]: row[1:] for row in rows}
            leases = [
                Lease(item=_item(by_seq[seq]), token=command.token, expires_at=expires_at)
                for seq in seqs
            ]
        (next_due,) = db.execute(
            "SELECT MIN(available_at) FROM items WHERE queue = ? AND dead = 0 "
            "AND available_at > ? AND available_at < ?",
            (command.queue, now, HELD_AT),
        ).fetchone()
        return Claimed(leases=leases, next_due=next_due)

    def _settle(self, command: Settle, now: float) -> list[LeaseLost | None]:
        outcomes: list[LeaseLost | None] = []
        for settlement in command.settlements:
            try:
                self._settle_one(settlement, now)
            except LeaseLost as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    def _settle_one(self, s: Settlement, now: float) -> None:
        if s.action == "ack":
            self._ack(Ack(s.queue, s.id, s.token), now)
            state = DELIVERED
        elif s.action == "bury":
            self._bury(Bury(s.queue, s.id, s.token, s.error), now)
            state = DEAD
        else:
            release = s.action == "release"
            error = None if release else s.error
            self._give_back(s.queue, s.id, s.token, s.retry_at, error, now, refund=release)
            state = PENDING
        if s.namespace:
            event = s.event or s.id
            eventlog.record(self._db, s.namespace, event, s.destination, state, s.attempt, now)

    def _expedite(self, command: Expedite, now: float) -> bool:
        row = self._db.execute(
            "SELECT available_at, held, lease_token FROM items "
            "WHERE queue = ? AND id = ? AND dead = 0",
            (command.queue, command.id),
        ).fetchone()
        if row is None:
            raise ItemNotFound(command.queue, command.id)
        available_at, held, token = row
        if held or available_at <= now or token is not None:
            return False  # already due, leased, or waiting behind its order key
        self._db.execute(
            "UPDATE items SET available_at = ? WHERE queue = ? AND id = ?",
            (now, command.queue, command.id),
        )
        return True

    def _ack(self, command: Ack, now: float) -> None:
        row = self._db.execute(
            "DELETE FROM items WHERE id = ? AND queue = ? AND dead = 0 AND lease_token = ? "
            "RETURNING order_key",
            (command.id, command.queue, command.token),
        ).fetchone()
        if row is None:
            raise LeaseLost(command.queue, command.id)
        self._next_in_line(command.queue, row[0], now)

    def _next_in_line(self, queue: str, order_key: str, now: float) -> None:
        """The item before them is done: the oldest held item of ``order_key`` may go."""
        if not order_key or self._line_busy_unheld(queue, order_key):
            return
        self._db.execute(
            "UPDATE items SET held = 0, available_at = ? WHERE seq = (SELECT seq FROM items "
            "WHERE queue = ? AND order_key = ? AND dead = 0 AND held = 1 ORDER BY seq LIMIT 1)",
            (now, queue, order_key),
        )

    def _line_busy_unheld(self, queue: str, order_key: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM items WHERE queue = ? AND order_key = ? AND dead = 0 AND held = 0 "
            "LIMIT 1",
            (queue, order_key),
        ).fetchone()
        return row is not None

    def _nack(self, command: Nack, now: float) -> None:
        self._give_back(
            command.queue, command.id, command.token, command.retry_at, command.error, now
        )

    def _give_back(
        self,
        queue: str,
        item_id: str,
        token: str,
        retry_at: float,
        error: str | None,
        now: float,
        *,
        refund: bool = False,
    ) -> None:
        """End a lease with the item still to do: claimable at ``retry_at``.

        A nack records ``error``; a release (``refund``) keeps the last error
        and takes back the attempt its claim counted.
        """
        cursor = self._db.execute(
            "UPDATE items SET lease_token = NULL, available_at = ?, attempt = attempt - ?, "
            "last_error = COALESCE(?, last_error) "
            "WHERE id = ? AND queue = ? AND dead = 0 AND lease_token = ?",
            (max(now, retry_at), int(refund), error, item_id, queue, token),
        )
        if cursor.rowcount == 0:
            raise LeaseLost(queue, item_id)

    def _bury(self, command: Bury, now: float) -> None:
        row = self._db.execute(
            "UPDATE items SET dead = 1, lease_token = NULL, last_error = ?, dead_at = ? "
            "WHERE id = ? AND queue = ? AND dead = 0 AND lease_token = ? RETURNING order_key",
            (command.error, now, command.id, command.queue, command.token),
        ).fetchone()
        if row is None:
            raise LeaseLost(command.queue, command.id)
        self._next_in_line(command.queue, row[0], now)

    def _list_dead(self, command: ListDead, now: float) -> DeadLetterPage:
        rows = self._db.execute(
            f"SELECT {_DEAD_COLUMNS} FROM items WHERE queue = ? AND dead = 1 AND seq > ? "  # noqa: S608
            "ORDER BY seq LIMIT ?",
            (command.queue, command.after, command.limit + 1),
        ).fetchall()
        items = [_dead(row) for row in rows[: command.limit]]
        more = len(rows) > command.limit
        return DeadLetterPage(items=items, next_cursor=items[-1].cursor if more else None)

    def _get_dead(self, command: GetDead, now: float) -> DeadLetterItem:
        row = self._db.execute(
            f"SELECT {_DEAD_COLUMNS} FROM items WHERE queue = ? AND id = ? AND dead = 1",  # noqa: S608
            (command.queue, command.id),
        ).fetchone()
        if row is None:
            raise ItemNotFound(command.queue, command.id)
        return _dead(row)

    def _replay_dead(self, command: ReplayDead, now: float) -> None:
        row = self._db.execute(
            "SELECT seq, order_key FROM items WHERE queue = ? AND id = ? AND dead = 1",
            (command.queue, command.id),
        ).fetchone()
        if row is None:
            raise ItemNotFound(command.queue, command.id)
        self._revive(command.queue, row[0], row[1], now)

    def _replay_all_dead(self, command: ReplayAllDead, now: float) -> int:
        rows = self._db.execute(
            "SELECT seq, order_key FROM items WHERE queue = ? AND dead = 1 ORDER BY seq LIMIT ?",
            (command.queue, command.limit),
        ).fetchall()
        for seq, order_key in rows:
            self._revive(command.queue, seq, order_key, now)
        return len(rows)

    def _revive(self, queue: str, seq: int, order_key: str, now: float) -> None:
        """A dead letter goes back, with fresh attempts, at the back of its order key's line."""
        held = bool(order_key) and self._line_busy(queue, order_key)
        self._db.execute(
            "UPDATE items SET dead = 0, attempt = 0, available_at = ?, held = ?, dead_at = NULL "
            "WHERE seq = ?",
            (HELD_AT if held else now, int(held), seq),
        )

    def _delete_dead(self, command: DeleteDead, now: float) -> None:
        cursor = self._db.execute(
            "DELETE FROM items WHERE queue = ? AND id = ? AND dead = 1",
            (command.queue, command.id),
        )
        if cursor.rowcount == 0:
            raise ItemNotFound(command.queue, command.id)

    def _counts(self, command: Counts, now: float) -> QueueCounts:
        ready, leased, delayed, dead, held = self._db.execute(
            "SELECT "
            "COALESCE(SUM(dead = 0 AND available_at <= :now), 0), "
            "COALESCE(SUM(dead = 0 AND available_at > :now AND lease_token IS NOT NULL), 0), "
            "COALESCE(SUM(dead = 0 AND held = 0 AND available_at > :now "
            "AND lease_token IS NULL), 0), "
            "COALESCE(SUM(dead = 1), 0), "
            "COALESCE(SUM(dead = 0 AND held = 1), 0) "
            "FROM items WHERE queue = :queue",
            {"now": now, "queue": command.queue},
        ).fetchone()
        return QueueCounts(ready=ready, leased=leased, delayed=delayed, dead=dead, held=held)

    def _queues(self, command: Queues, now: float) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT queue FROM items ORDER BY queue").fetchall()
        return [row[0] for row in rows]

    def _kv_get(self, command: KvGet, now: float) -> bytes | None:
        row = self._db.execute(
            "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (command.key, now),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def _kv_put(self, command: KvPut, now: float) -> bool:
        expires_at = None if command.ttl_s is None else now + command.ttl_s
        if command.if_absent:
            # A live value stays: only an expired one is replaced.
            cursor = self._db.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "expires_at = excluded.expires_at "
                "WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?",
                (command.key, command.value, expires_at, now),
            )
            return cursor.rowcount > 0
        self._db.execute(
            "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            (command.key, command.value, expires_at),
        )
        return True

    def _topics(self, command: TopicPublish | TopicHistory, now: float) -> InvalidStoreCall:
        # Returned, not raised: the rest of the batch goes on.
        return InvalidStoreCall("topics are shared through redis; one process keeps its own")

    def _kv_keys(self, command: KvKeys, now: float) -> KeyPage:
        rows = self._db.execute(
            "SELECT key FROM kv WHERE substr(key, 1, ?) = ? AND key > ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?",
            (len(command.prefix), command.prefix, command.cursor, now, command.limit),
        ).fetchall()
        keys = [row[0] for row in rows]
        return KeyPage(keys, keys[-1] if len(keys) == command.limit else None)

    def _kv_delete(self, command: KvDelete, now: float) -> bool:
        if command.if_value is not None:
            cursor = self._db.execute(
                "DELETE FROM kv WHERE key = ? AND value = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (command.key, command.if_value, now),
            )
            return cursor.rowcount == 1
        cursor = self._db.execute(
            "DELETE FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (command.key, now),
        )
        return cursor.rowcount == 1

    def _reserve(self, command: Reserve, now: float) -> tuple[bool, float]:
        # The same GCRA as the Redis script, on this host's clock, in the kv table.
        tat_key, hold_key = f"budget:{command.key}", f"budget:{command.key}:hold"
        tat = self._kv_float(tat_key, now)
        base = max(tat if tat is not None else now, now)
        hold = self._kv_float(hold_key, now) or 0.0
        start = max(now, base - command.tolerance_s, hold)
        delay = start - now
        if delay > 0 and not command.wait:
            return False, delay
        new_tat = max(base, start) + command.interval_s
        ttl = new_tat - now + command.tolerance_s + 1.0
        self._kv_put(KvPut(tat_key, repr(new_tat).encode(), ttl), now)
        return True, delay

    def _hold(self, command: Hold, now: float) -> None:
        key = f"budget:{command.key}:hold"
        until = now + command.seconds
        if until > (self._kv_float(key, now) or 0.0):
            self._kv_put(KvPut(key, repr(until).encode(), command.seconds + 1.0), now)

    def _kv_float(self, key: str, now: float) -> float | None:
        value = self._kv_get(KvGet(key), now)
        return None if value is None else float(value)

    def _purge(self, now: float) -> None:
        full = eventlog.purge(self._db, now, _PURGE_LIMIT)
        for table in ("dedup", "kv"):
            cursor = self._db.execute(
                f"DELETE FROM {table} WHERE key IN "  # noqa: S608 -- a constant table name
                f"(SELECT key FROM {table} WHERE expires_at <= ? LIMIT ?)",
                (now, _PURGE_LIMIT),
            )
            full = full or cursor.rowcount == _PURGE_LIMIT
        # A full slice means more is waiting: purge again with the next batch.
        self._last_purge = 0.0 if full else now


def _present(db: sqlite3.Connection, query: str, values: list[str], *leading: object) -> list[str]:
    """Which of ``values`` the query (ending in ``IN``) finds; one statement per 500."""
    found: list[str] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"{query} ({marks})", (*leading, *chunk)).fetchall()
        found += [row[0] for row in rows]
    return found


def _item(row: tuple[Any, ...]) -> QueueItem:
    item_id, queue, payload, source, meta, attempt, enqueued_at, last_error = row
    return QueueItem(
        id=item_id,
        queue=queue,
        payload=bytes(payload),
        source=source,
        meta=msgspec.json.decode(meta, type=dict[str, str]),
        attempt=attempt,
        enqueued_at=enqueued_at,
        last_error=last_error,
    )


def _dead(row: tuple[Any, ...]) -> DeadLetterItem:
    item = _item(row[:8])
    dead_at, seq = row[8:]
    return DeadLetterItem(
        id=item.id,
        queue=item.queue,
        payload=item.payload,
        source=item.source,
        meta=item.meta,
        attempts=item.attempt,
        enqueued_at=item.enqueued_at,
        dead_at=dead_at,
        last_error=item.last_error,
        cursor=seq,
    )


def _disk_full(error: sqlite3.Error) -> bool:
    """sqlite's "database or disk is full", or a write that failed for want of space."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return code == sqlite3.SQLITE_FULL or (
        code == sqlite3.SQLITE_IOERR and "disk" in str(error).lower()
    )
