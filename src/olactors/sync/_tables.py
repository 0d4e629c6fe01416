"""One sync's records in its database: staging fetched pages, applying a run in one
transaction, the app's own writes, the cursor over changes, conflicts and runs.

Every method is blocking (it runs in a worker thread) and is one transaction.
A run's fetch commits page by page into the staging table, with the cursor
of the next page, so a restart goes on from the last committed page; the
run's creates, updates and deletes are then applied from staging in one
transaction, so a crash or an error leaves the records as they were before
the run. Records whose content hash did not change are never written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from ._records import Record, canonical, content_hash
from ._rules import Side, Version, merge, newer
from ._sql import Cursor, Database, schema

Conflict = Literal["last-write-wins", "merge", "manual"]
Kind = Literal["full", "incremental", "targeted"]
Status = Literal["running", "succeeded", "failed"]
#: Staged rows applied per round trip.
BATCH = 1000
#: How long a process holds a sync without renewing (each page and the apply renew).
LEASE_S = 300.0
#: A source's clock may be this far from ours.
CLOCK_SKEW_S = 300.0


class Item(msgspec.Struct, frozen=True):
    """One external record as a source gave it; ``deleted`` when the source says it is gone
    (a Stripe ``customer.deleted`` event)."""

    id: str
    data: Record
    updated_at: float | None = None
    deleted: bool = False


class RunView(msgspec.Struct, frozen=True):
    id: str
    sync: str
    kind: Kind
    status: Status
    created: int
    updated: int
    deleted: int
    unchanged: int
    conflicts: int
    errors: int
    fetched: int
    started_at: float
    ended_at: float | None
    error: str | None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


class RecordView(msgspec.Struct, frozen=True):
    id: str
    data: Record
    updated_at: float | None
    deleted: bool


class ConflictView(msgspec.Struct, frozen=True):
    id: str
    external: Record | None
    local: Record | None
    base: Record | None
    external_updated_at: float | None
    local_updated_at: float | None
    detected_at: float


class State(msgspec.Struct, frozen=True):
    seq: int = 0
    since: float | None = None
    fetching: bool = False
    fetch_run: str | None = None
    fetch_kind: Kind | None = None
    fetch_cursor: str | None = None
    fetch_high: float | None = None
    fetched: int = 0
    #: The fetch keeps unchanged records' ids (it may delete what it did not see):
    #: decided when it began, the same for every page however often it resumes.
    fetch_keep: bool = False
    #: When the fetch began (the first attempt, not a resumption).
    fetch_started: float | None = None
    #: Which actor runs this sync now, and until when unless it renews.
    owner: str | None = None
    owner_until: float | None = None


class Busy(Exception):
    """Another process runs this sync now (another replica on the same database)."""

    def __init__(self, run: str | None) -> None:
        super().__init__(f"run {run} of another process is going" if run else "it is running")
        self.run = run


class LostLease(Exception):
    """This run's hold on the sync lapsed and another process took it: it stops."""


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class Policy:
    conflict: Conflict = "last-write-wins"
    winner: Side = "external"
    allow_deletions: bool = False


class NoSuchRecord(Exception):
    pass


class NoSuchConflict(Exception):
    pass


def _load(text: str | None) -> Record | None:
    return None if text is None else json.loads(text)


def _dump(data: Record | None) -> str | None:
    return None if data is None else canonical(data).decode()


@dataclass
class _Row:
    """A record as stored."""

    id: str
    data: Record
    hash: str
    base: Record | None
    base_hash: str | None
    local_changed: bool
    deleted: bool
    local_updated_at: float | None
    external_updated_at: float | None

    @classmethod
    def of(cls, values: Sequence[Any]) -> _Row:
        """From the values of :func:`row_columns`."""
        rid, data, digest, base, base_hash, changed, deleted, local_at, external_at = values
        return cls(
            rid,
            json.loads(data),
            digest,
            _load(base),
            base_hash,
            bool(changed),
            bool(deleted),
            local_at,
            external_at,
        )

    def local(self) -> Version:
        """The local side's version: gone if the app deleted it."""
        return Version(
            None if self.deleted else self.data,
            "" if self.deleted else self.hash,
            self.local_updated_at,
        )


@dataclass
class _Writes:
    """A batch's writes, sent together."""

    upserts: list[tuple[Any, ...]] = field(default_factory=list)
    conflicts: list[tuple[Any, ...]] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


@dataclass
class _Pass:
    """One transaction's decisions: its rules, its change number and time, what it
    counted and what it will write."""

    policy: Policy
    seq: int
    now: float
    counts: Counts = field(default_factory=Counts)
    writes: _Writes = field(default_factory=_Writes)


class SyncTables:
    def __init__(self, db: Database, sync: str) -> None:
        self.db = db
        self.sync = sync
        self.table = f"sync_{sync}"
        self.staging = f"{self.table}_staging"

    # -- set-up and state ---------------------------------------------------

    def create(self) -> None:
        """The tables, if missing. Once they are there, nothing is locked: an index
        statement, even one that finds its index made, would lock the table against
        a run that holds the state row (a deadlock on PostgreSQL)."""
        if self._made():
            return
        with self.db.transaction() as cursor:
            for statement in schema(self.db, self.table):
                cursor.execute(statement)
            cursor.execute(
                self.db.sql(
                    "INSERT INTO sync_state (sync, seq, fetching, fetched) VALUES (?, 0, ?, 0) "
                    "ON CONFLICT (sync) DO NOTHING"
                ),
                (self.sync, False),
            )

    def _made(self) -> bool:
        exists = (
            "SELECT to_regclass(%s) IS NOT NULL"
            if self.db.postgres
            else "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?)"
        )
        with self.db.transaction() as cursor:
            for table in (
                self.table,
                f"{self.table}_seq",
                self.staging,
                "sync_runs",
                "sync_conflicts",
                "sync_state",
            ):
                cursor.execute(exists, (table,))
                if not cursor.fetchone()[0]:
                    return False
            cursor.execute(self.db.sql("SELECT 1 FROM sync_state WHERE sync = ?"), (self.sync,))
            return cursor.fetchone() is not None

    def state(self) -> State:
        with self.db.transaction() as cursor:
            return self._state(cursor)

    def _state(self, cursor: Cursor, *, lock: bool = False) -> State:
        """The sync's state; ``lock``: its row held until the transaction ends, taken
        before any record is (every writer takes them in this order: no deadlock)."""
        locked = " FOR UPDATE" if lock and self.db.postgres else ""
        cursor.execute(
            self.db.sql(f"SELECT {_STATE_COLUMNS} FROM sync_state WHERE sync = ?{locked}"),
            (self.sync,),
        )
        row = list(cursor.fetchone())
        row[2], row[8] = bool(row[2]), bool(row[8])
        return State(*row)

    def _hold(self, cursor: Cursor, owner: str, now: float) -> State:
        """Renew ``owner``'s lease and lock the state row; LostLease if it is not its."""
        cursor.execute(
            self.db.sql("UPDATE sync_state SET owner_until = ? WHERE sync = ? AND owner = ?"),
            (now + LEASE_S, self.sync, owner),
        )
        if cursor.rowcount != 1:
            raise LostLease(f"sync {self.sync}: another process runs it now")
        return self._state(cursor, lock=True)

    # -- runs -----------------------------------------------------------------

    def begin(
        self,
        run: str,
        kind: Kind,
        now: float,
        *,
        resume: bool,
        owner: str,
        keep_unchanged: bool = False,
    ) -> State:
        """Take the sync for ``owner`` (Busy if another process holds it) and record run
        ``run`` as running. Resuming, the fetch goes on from the checkpoint (its staging
        and its settings kept); otherwise it starts over from an empty staging table."""
        with self.db.transaction() as cursor:
            state = self._state(cursor, lock=True)
            cursor.execute(
                self.db.sql(
                    "UPDATE sync_state SET owner = ?, owner_until = ? WHERE sync = ? "
                    "AND (owner IS NULL OR owner = ? OR owner_until < ?)"
                ),
                (owner, now + LEASE_S, self.sync, owner, now),
            )
            if cursor.rowcount != 1:
                raise Busy(state.fetch_run)
            if not resume:
                cursor.execute(f"DELETE FROM {self.staging}")
                cursor.execute(
                    self.db.sql(
                        "UPDATE sync_state SET fetching = ?, fetch_run = ?, fetch_kind = ?, "
                        "fetch_cursor = NULL, fetch_high = NULL, fetched = 0, fetch_keep = ?, "
                        "fetch_started = ? WHERE sync = ?"
                    ),
                    (True, run, kind, keep_unchanged, now, self.sync),
                )
            else:
                cursor.execute(
                    self.db.sql("UPDATE sync_state SET fetch_run = ? WHERE sync = ?"),
                    (run, self.sync),
                )
            cursor.execute(
                self.db.sql(
                    "INSERT INTO sync_runs (id, sync, kind, status, created, updated, deleted, "
                    "unchanged, conflicts, errors, fetched, started_at) "
                    "VALUES (?, ?, ?, 'running', 0, 0, 0, 0, 0, 0, 0, ?)"
                ),
                (run, self.sync, kind, now),
            )
            return self._state(cursor)

    def fail(self, run: str, error: str, now: float, owner: str, *, keep_checkpoint: bool) -> None:
        """The run ended without applying anything. A fetch's checkpoint stays for the next
        run to go on from, unless ``keep_checkpoint`` is false (the failure would come
        again from there: a cursor the source no longer takes, a record refused)."""
        with self.db.transaction() as cursor:
            cursor.execute(
                self.db.sql(
                    "UPDATE sync_state SET owner = NULL, owner_until = NULL "
                    "WHERE sync = ? AND owner = ?"
                ),
                (self.sync, owner),
            )
            if not keep_checkpoint and cursor.rowcount == 1:
                cursor.execute(f"DELETE FROM {self.staging}")
                cursor.execute(
                    self.db.sql(
                        "UPDATE sync_state SET fetching = ?, fetch_run = NULL, fetch_kind = NULL, "
                        "fetch_cursor = NULL, fetch_high = NULL, fetched = 0 WHERE sync = ?"
                    ),
                    (False, self.sync),
                )
            cursor.execute(
                self.db.sql(
                    "UPDATE sync_runs SET status = 'failed', errors = errors + 1, error = ?, "
                    "ended_at = ? WHERE id = ?"
                ),
                (error[:500], now, run),
            )

    def failed_targeted(self, run: str, asked: int, error: str, now: float) -> None:
        """A targeted run that failed before anything was applied (its records not had)."""
        with self.db.transaction() as cursor:
            cursor.execute(
                self.db.sql(
                    "INSERT INTO sync_runs (id, sync, kind, status, created, updated, deleted, "
                    "unchanged, conflicts, errors, fetched, started_at, ended_at, error) "
                    "VALUES (?, ?, 'targeted', 'failed', 0, 0, 0, 0, 0, 1, ?, ?, ?, ?)"
                ),
                (run, self.sync, asked, now, now, error[:500]),
            )

    def abandon_running(self, now: float) -> None:
        """Runs left 'running' by a process that died, once nobody holds the sync: failed
        (the checkpoint stays). A live process's run is left alone."""
        with self.db.transaction() as cursor:
            state = self._state(cursor, lock=True)
            if state.owner is not None and (state.owner_until or 0) >= now:
                return
            cursor.execute(
                self.db.sql(
                    "UPDATE sync_runs SET status = 'failed', errors = errors + 1, "
                    "error = 'interrupted', ended_at = ? WHERE sync = ? AND status = 'running' "
                    "AND kind <> 'targeted'"
                ),
                (now, self.sync),
            )

    def run(self, run: str) -> RunView | None:
        with self.db.transaction() as cursor:
            cursor.execute(
                self.db.sql(f"{_RUN_COLUMNS} FROM sync_runs WHERE id = ? AND sync = ?"),
                (run, self.sync),
            )
            row = cursor.fetchone()
        return None if row is None else RunView(*row)

    def runs(self, limit: int) -> list[RunView]:
        with self.db.transaction() as cursor:
            cursor.execute(
                self.db.sql(
                    f"{_RUN_COLUMNS} FROM sync_runs WHERE sync = ? "
                    "ORDER BY started_at DESC, id DESC LIMIT ?"
                ),
                (self.sync, limit),
            )
            return [RunView(*row) for row in cursor.fetchall()]

    # -- fetching ---------------------------------------------------------------

    def stage(
        self, items: Sequence[Item], next_cursor: str | None, *, owner: str, now: float
    ) -> int:
        """Stage one fetched page and its checkpoint in one transaction; returns how many of
        its items changed. Unchanged items (their hash is the last synced one) are kept
        by id only, and only when the fetch keeps them (a full fetch that may delete)."""
        newest = _newest_each(list(items))  # a page may name a record twice (two events)
        high = max((i.updated_at for i in newest if i.updated_at is not None), default=None)
        with self.db.transaction() as cursor:
            keep = self._hold(cursor, owner, now).fetch_keep
            synced = self._synced_hashes(cursor, [item.id for item in newest]) if newest else {}
            rows = []
            changed = 0
            for item in newest:
                digest = "" if item.deleted else content_hash(item.data)
                same = synced.get(item.id) == digest and not item.deleted
                if same and not keep:
                    continue
                changed += not same
                data = None if same or item.deleted else _dump(item.data)
                rows.append((item.id, data, digest, item.updated_at, item.deleted))
            if rows:
                self._write_staged(cursor, rows)
            self._checkpoint(cursor, next_cursor, high, len(items))
        return changed

    def _write_staged(self, cursor: Cursor, rows: list[tuple[Any, ...]]) -> None:
        # A later page's older version of a record never replaces a newer one
        # (Stripe's events come newest first).
        newer = (
            "ON CONFLICT (id) DO UPDATE SET data = excluded.data, hash = excluded.hash, "
            "updated_at = excluded.updated_at, deleted = excluded.deleted "
            f"WHERE {self.staging}.updated_at IS NULL "
            f"OR excluded.updated_at > {self.staging}.updated_at"
        )
        columns = "(id, data, hash, updated_at, deleted)"
        if not self.db.postgres:
            cursor.executemany(
                f"INSERT INTO {self.staging} {columns} VALUES (?, ?, ?, ?, ?) {newer}", rows
            )
            return
        # PostgreSQL: a page goes in by COPY (a tenth of a row-by-row insert's time),
        # through a temporary table, then into staging in one statement.
        page = f"{self.staging}_page"
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {page} (id TEXT, data JSONB, hash TEXT, "
            "updated_at DOUBLE PRECISION, deleted BOOLEAN) ON COMMIT DELETE ROWS"
        )
        copying: Any = cursor
        with copying.copy(f"COPY {page} {columns} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {self.staging} {columns} SELECT * FROM {page} {newer}")

    def _synced_hashes(self, cursor: Cursor, ids: list[str]) -> dict[str, str]:
        """Each id's last synced hash (a record deleted since has none)."""
        condition, as_list = self.db.any_of("id", len(ids))
        cursor.execute(
            f"SELECT id, base_hash FROM {self.table} WHERE {condition} AND deleted = "
            + ("FALSE" if self.db.postgres else "0"),
            (ids,) if as_list else ids,
        )
        return {row[0]: row[1] for row in cursor.fetchall()}

    def _checkpoint(
        self, cursor: Cursor, next_cursor: str | None, high: float | None, count: int
    ) -> None:
        # NULL: from the first page; "": every page is staged, the run only
        # has to be applied; else where the next page starts.
        next_cursor = "" if next_cursor is None else next_cursor
        cursor.execute(
            self.db.sql(
                "UPDATE sync_state SET fetch_cursor = ?, fetched = fetched + ?, "
                "fetch_high = CASE WHEN fetch_high IS NULL OR fetch_high < ? THEN ? "
                "ELSE fetch_high END WHERE sync = ?"
            ),
            (next_cursor, count, high, high, self.sync),
        )

    # -- applying -------------------------------------------------------------

    def apply(
        self, run: str, policy: Policy, *, complete_full: bool, now: float, owner: str
    ) -> RunView:
        """Apply what the run staged, in one transaction, and end the run as succeeded.

        ``complete_full``: the fetch read everything the source has, so a record it
        did not return is gone there (deleted here if ``allow_deletions`` and the
        fetch kept every id it saw from its first page on)."""
        with self.db.transaction() as cursor:
            # The state row, locked for the transaction: every writer of the records
            # (the app's writes, a targeted run) takes it before reading one, so they
            # wait for the run instead of landing between its read of a record and its
            # write (on sqlite, BEGIN IMMEDIATE serializes writers anyway).
            state = self._hold(cursor, owner, now)
            seq = state.seq + 1
            counts = Counts()
            after = ""
            while True:
                batch = self._staged(cursor, after)
                if not batch:
                    break
                after = batch[-1][0]
                decided = _Pass(policy, seq, now, counts)
                for row in batch:
                    self._decide(row, decided)
                self._write(cursor, decided.writes)
            # Fetched but not staged as a change: the same as last synced (a record
            # fetched twice in one run, as two events, counts twice).
            cursor.execute(
                self.db.sql(
                    f"SELECT COUNT(*) FROM {self.staging} WHERE data IS NOT NULL OR deleted = ?"
                ),
                (True,),
            )
            counts.unchanged += max(0, state.fetched - cursor.fetchone()[0])
            if complete_full and policy.allow_deletions and state.fetch_keep:
                self._delete_missing(cursor, policy, seq, now, counts)
            cursor.execute(f"DELETE FROM {self.staging}")
            cursor.execute(
                self.db.sql(
                    "UPDATE sync_state SET seq = ?, since = ?, fetching = ?, fetch_run = NULL, "
                    "fetch_kind = NULL, fetch_cursor = NULL, fetch_high = NULL, fetched = 0, "
                    "owner = NULL, owner_until = NULL WHERE sync = ?"
                ),
                (seq, _since(state), False, self.sync),
            )
            return self._finish(cursor, run, counts, state.fetched, now)

    def apply_items(self, run: str, items: Sequence[Item], policy: Policy, now: float) -> RunView:
        """A targeted run: these records (a webhook named them), applied at once as a
        run of their own, in one transaction, without touching a fetch in progress."""
        db = self.db
        with db.transaction() as cursor:
            seq = self._state(cursor, lock=True).seq + 1  # the state row first, as apply
            cursor.execute(
                db.sql(
                    "INSERT INTO sync_runs (id, sync, kind, status, created, updated, deleted, "
                    "unchanged, conflicts, errors, fetched, started_at) "
                    "VALUES (?, ?, 'targeted', 'running', 0, 0, 0, 0, 0, 0, ?, ?)"
                ),
                (run, self.sync, len(items), now),
            )
            decided = _Pass(policy, seq, now)
            for item in items:
                stored = self._row(cursor, item.id)
                staged = (
                    item.id,
                    None if item.deleted else _dump(item.data),
                    "" if item.deleted else content_hash(item.data),
                    item.updated_at,
                    item.deleted,
                    *(
                        (None,) * 9
                        if stored is None
                        else (
                            stored.id,
                            _dump(stored.data),
                            stored.hash,
                            _dump(stored.base),
                            stored.base_hash,
                            stored.local_changed,
                            stored.deleted,
                            stored.local_updated_at,
                            stored.external_updated_at,
                        )
                    ),
                )
                self._decide(staged, decided)
            self._write(cursor, decided.writes)
            cursor.execute(db.sql("UPDATE sync_state SET seq = ? WHERE sync = ?"), (seq, self.sync))
            return self._finish(cursor, run, decided.counts, len(items), now)

    def _finish(
        self, cursor: Cursor, run: str, counts: Counts, fetched: int, now: float
    ) -> RunView:
        cursor.execute(
            self.db.sql(
                "UPDATE sync_runs SET status = 'succeeded', created = ?, updated = ?, "
                "deleted = ?, unchanged = ?, conflicts = ?, fetched = ?, ended_at = ? "
                "WHERE id = ?"
            ),
            (
                counts.created,
                counts.updated,
                counts.deleted,
                counts.unchanged,
                counts.conflicts,
                fetched,
                now,
                run,
            ),
        )
        cursor.execute(self.db.sql(f"{_RUN_COLUMNS} FROM sync_runs WHERE id = ?"), (run,))
        return RunView(*cursor.fetchone())

    def _staged(self, cursor: Cursor, after: str) -> list[Any]:
        db = self.db
        cursor.execute(
            db.sql(
                f"SELECT s.id, {db.json_out('s.data')}, s.hash, s.updated_at, s.deleted, "
                f"{self._row_columns('r.')} "
                f"FROM {self.staging} s LEFT JOIN {self.table} r ON r.id = s.id "
                "WHERE (s.data IS NOT NULL OR s.deleted = ?) AND s.id > ? "
                "ORDER BY s.id LIMIT ?"
            ),
            (True, after, BATCH),
        )
        return cursor.fetchall()

    def _decide(self, staged: Any, p: _Pass) -> None:
        sid, sdata, shash, supdated, sdeleted = staged[:5]
        ext_data = _load(sdata)
        row = _Row.of(staged[5:]) if staged[5] is not None else None
        if sdeleted:
            external = Version(None, "", supdated if supdated is not None else p.now)
        else:
            assert ext_data is not None
            external = Version(ext_data, shash, supdated)
        if row is None:
            if external.data is not None:
                p.counts.created += 1
                p.writes.upserts.append(self._synced(sid, external, p.seq, p.now))
            return
        if (
            supdated is not None
            and row.external_updated_at is not None
            and supdated < row.external_updated_at
        ):
            # Older than the version already synced (an event read again, a fetch
            # resumed after a webhook's refresh): not news.
            p.counts.unchanged += 1
            return
        if row.deleted and not row.local_changed:
            # Deleted here because it was gone there: back if it is back.
            if external.data is not None:
                p.counts.created += 1
                p.writes.upserts.append(self._synced(sid, external, p.seq, p.now))
            return
        if external.hash == row.base_hash:
            p.counts.unchanged += 1
            return
        if not row.local_changed:
            if external.data is None:
                if p.policy.allow_deletions:
                    p.counts.deleted += 1
                    p.writes.upserts.append(self._tombstone(row, p.seq, p.now))
                return
            p.counts.updated += 1
            p.writes.upserts.append(self._synced(sid, external, p.seq, p.now))
            return
        # Both sides changed since the last sync.
        local = row.local()
        if external.hash == local.hash:
            p.counts.unchanged += 1  # the same change on both sides: agreed again
            p.writes.upserts.append(self._synced(sid, external, p.seq, p.now))
            return
        p.counts.conflicts += 1
        self._resolve(row, local, external, p)

    def _resolve(self, row: _Row, local: Version, external: Version, p: _Pass) -> None:
        if p.policy.conflict == "manual":
            p.writes.conflicts.append(
                (
                    self.sync,
                    row.id,
                    _dump(external.data),
                    external.hash,
                    _dump(local.data),
                    _dump(row.base),
                    external.updated_at,
                    local.updated_at,
                    p.now,
                )
            )
            return
        if p.policy.conflict == "last-write-wins":
            chosen = newer(external, local).data
        else:
            chosen = merge(row.base, local.data, external.data, p.policy.winner)
        if chosen is None and external.data is None and not p.policy.allow_deletions:
            chosen = local.data  # a deletion there is only followed when allowed
        self._settle(row, chosen, external, p)

    def _settle(self, row: _Row, chosen: Record | None, external: Version, p: _Pass) -> None:
        """``chosen`` is the record now (None: deleted), ``external`` the new base."""
        if chosen is None:
            if not row.deleted:
                p.counts.deleted += 1
            p.writes.upserts.append(self._tombstone(row, p.seq, p.now, base=external))
            return
        digest = content_hash(chosen)
        if digest != row.hash or row.deleted:
            p.counts.updated += 1
        from_external = digest == external.hash
        p.writes.upserts.append(
            (
                row.id,
                _dump(chosen),
                digest,
                external.updated_at if from_external else p.now,
                external.updated_at,
                None if from_external else row.local_updated_at or p.now,
                _dump(external.data),
                external.hash or None,
                not from_external,
                False,
                p.seq,
            )
        )

    def _synced(self, rid: str, external: Version, seq: int, now: float) -> tuple[Any, ...]:
        """The record as the source has it, agreed on by both sides."""
        return (
            rid,
            _dump(external.data),
            external.hash,
            external.updated_at,
            external.updated_at,
            None,
            _dump(external.data),
            external.hash,
            False,
            False,
            seq,
        )

    def _tombstone(
        self, row: _Row, seq: int, now: float, base: Version | None = None
    ) -> tuple[Any, ...]:
        return (
            row.id,
            _dump(row.data),
            row.hash,
            now,
            now,
            row.local_updated_at,
            _dump(base.data) if base is not None else _dump(row.base),
            (base.hash or None) if base is not None else row.base_hash,
            False,
            True,
            seq,
        )

    def _write(self, cursor: Cursor, writes: _Writes) -> None:
        db = self.db
        if writes.upserts:
            cursor.executemany(
                db.sql(
                    f"INSERT INTO {self.table} (id, data, hash, updated_at, external_updated_at, "
                    "local_updated_at, base, base_hash, local_changed, deleted, seq) VALUES "
                    f"(?, {db.json_in()}, ?, ?, ?, ?, {db.json_in()}, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET data = excluded.data, hash = excluded.hash, "
                    "updated_at = excluded.updated_at, "
                    "external_updated_at = excluded.external_updated_at, "
                    "local_updated_at = excluded.local_updated_at, base = excluded.base, "
                    "base_hash = excluded.base_hash, local_changed = excluded.local_changed, "
                    "deleted = excluded.deleted, seq = excluded.seq"
                ),
                writes.upserts,
            )
        if writes.conflicts:
            distinct = "IS DISTINCT FROM" if db.postgres else "IS NOT"
            # A conflict already waiting with the same external version is not news.
            cursor.executemany(
                db.sql(
                    "INSERT INTO sync_conflicts (sync, id, external, external_hash, local, base, "
                    "external_updated_at, local_updated_at, detected_at) VALUES "
                    f"(?, ?, {db.json_in()}, ?, {db.json_in()}, {db.json_in()}, ?, ?, ?) "
                    "ON CONFLICT (sync, id) DO UPDATE SET external = excluded.external, "
                    "external_hash = excluded.external_hash, local = excluded.local, "
                    "base = excluded.base, external_updated_at = excluded.external_updated_at, "
                    "local_updated_at = excluded.local_updated_at, "
                    "detected_at = excluded.detected_at "
                    f"WHERE sync_conflicts.external_hash {distinct} excluded.external_hash"
                ),
                writes.conflicts,
            )

    def _delete_missing(
        self, cursor: Cursor, policy: Policy, seq: int, now: float, counts: Counts
    ) -> None:
        """After a complete full fetch: records the source no longer has. Only records
        that came from the source (a base); the app's own records are never touched."""
        db = self.db
        missing = (
            f"deleted = ? AND base_hash IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {self.staging} s WHERE s.id = {self.table}.id)"
        )
        cursor.execute(
            db.sql(
                f"UPDATE {self.table} SET deleted = ?, seq = ?, updated_at = ?, "
                f"external_updated_at = ? WHERE local_changed = ? AND {missing}"
            ),
            (True, seq, now, now, False, False),
        )
        counts.deleted += max(cursor.rowcount, 0)
        cursor.execute(
            db.sql(
                f"SELECT {self._row_columns()} FROM {self.table} "
                f"WHERE local_changed = ? AND {missing}"
            ),
            (True, False),
        )
        gone = Version(None, "", now)
        for values in cursor.fetchall():
            row = _Row.of(values)
            counts.conflicts += 1
            decided = _Pass(policy, seq, now, counts)
            self._resolve(row, row.local(), gone, decided)
            self._write(cursor, decided.writes)

    # -- the app's side -------------------------------------------------------

    def records(self, after: tuple[int, str], limit: int) -> list[tuple[RecordView, int]]:
        """Records changed after the cursor position (seq, id), deletions included."""
        db = self.db
        seq, rid = after
        cursor_sql = db.sql(
            f"SELECT id, {db.json_out('data')}, updated_at, deleted, seq FROM {self.table} "
            "WHERE seq > ? OR (seq = ? AND id > ?) ORDER BY seq, id LIMIT ?"
        )
        with db.transaction() as cursor:
            cursor.execute(cursor_sql, (seq, seq, rid, limit))
            rows = cursor.fetchall()
        return [(RecordView(r[0], json.loads(r[1]), r[2], bool(r[3])), int(r[4])) for r in rows]

    def put_local(self, rid: str, data: Record, now: float) -> RecordView:
        """The app's own version of a record (created here if the source never had it)."""
        digest = content_hash(data)
        with self.db.transaction() as cursor:
            seq = self._next_seq(cursor)
            row = self._row(cursor, rid)
            base, base_hash = (row.base, row.base_hash) if row is not None else (None, None)
            cursor.execute(
                self.db.sql(
                    f"INSERT INTO {self.table} (id, data, hash, updated_at, external_updated_at, "
                    "local_updated_at, base, base_hash, local_changed, deleted, seq) VALUES "
                    f"(?, {self.db.json_in()}, ?, ?, NULL, ?, {self.db.json_in()}, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET data = excluded.data, hash = excluded.hash, "
                    "updated_at = excluded.updated_at, "
                    "local_updated_at = excluded.local_updated_at, "
                    "local_changed = excluded.local_changed, deleted = excluded.deleted, "
                    "seq = excluded.seq"
                ),
                (
                    rid,
                    _dump(data),
                    digest,
                    now,
                    now,
                    _dump(base),
                    base_hash,
                    digest != base_hash,
                    False,
                    seq,
                ),
            )
        return RecordView(rid, data, now, False)

    def delete_local(self, rid: str, now: float) -> RecordView:
        with self.db.transaction() as cursor:
            seq = self._next_seq(cursor)  # the state row first, then the record
            row = self._row(cursor, rid)
            if row is None or row.deleted:
                raise NoSuchRecord(rid)
            cursor.execute(
                self.db.sql(
                    f"UPDATE {self.table} SET deleted = ?, local_changed = ?, "
                    "local_updated_at = ?, updated_at = ?, seq = ? WHERE id = ?"
                ),
                (True, True, now, now, seq, rid),
            )
        return RecordView(rid, row.data, now, True)

    def _row(self, cursor: Cursor, rid: str) -> _Row | None:
        db = self.db
        cursor.execute(
            db.sql(f"SELECT {self._row_columns()} FROM {self.table} WHERE id = ?"), (rid,)
        )
        found = cursor.fetchone()
        return None if found is None else _Row.of(found)

    def _row_columns(self, prefix: str = "") -> str:
        """What :meth:`_Row.of` reads, from the records table (as ``prefix``)."""
        db = self.db
        return (
            f"{prefix}id, {db.json_out(prefix + 'data')}, {prefix}hash, "
            f"{db.json_out(prefix + 'base')}, {prefix}base_hash, {prefix}local_changed, "
            f"{prefix}deleted, {prefix}local_updated_at, {prefix}external_updated_at"
        )

    def _next_seq(self, cursor: Cursor) -> int:
        cursor.execute(
            self.db.sql("UPDATE sync_state SET seq = seq + 1 WHERE sync = ? RETURNING seq"),
            (self.sync,),
        )
        return int(cursor.fetchone()[0])

    # -- conflicts --------------------------------------------------------------

    def conflicts(self, after: str, limit: int) -> list[ConflictView]:
        db = self.db
        with db.transaction() as cursor:
            cursor.execute(
                db.sql(
                    f"SELECT id, {db.json_out('external')}, {db.json_out('local')}, "
                    f"{db.json_out('base')}, external_updated_at, local_updated_at, detected_at "
                    "FROM sync_conflicts WHERE sync = ? AND id > ? ORDER BY id LIMIT ?"
                ),
                (self.sync, after, limit),
            )
            rows = cursor.fetchall()
        return [
            ConflictView(r[0], _load(r[1]), _load(r[2]), _load(r[3]), r[4], r[5], r[6])
            for r in rows
        ]

    def resolve(self, rid: str, take: Side | None, record: Record | None, now: float) -> RecordView:
        """End a conflict: the external version, the local one, or an edited record. The
        external version becomes the base, so the same conflict does not come back."""
        db = self.db
        with db.transaction() as cursor:
            seq = self._next_seq(cursor)  # the state row first: a run waits, or is done
            cursor.execute(
                db.sql(
                    f"SELECT {db.json_out('external')}, external_hash, external_updated_at "
                    "FROM sync_conflicts WHERE sync = ? AND id = ?"
                ),
                (self.sync, rid),
            )
            found = cursor.fetchone()
            row = self._row(cursor, rid)
            if found is None or row is None:
                raise NoSuchConflict(rid)
            external = Version(_load(found[0]), found[1] or "", found[2])
            if record is not None:
                chosen: Record | None = record
            elif take == "external":
                chosen = external.data
            else:
                chosen = row.local().data
            decided = _Pass(Policy(), seq, now)
            if record is not None:
                row.local_updated_at = now  # an edit is a local write
            self._settle(row, chosen, external, decided)
            self._write(cursor, decided.writes)
            cursor.execute(
                db.sql("DELETE FROM sync_conflicts WHERE sync = ? AND id = ?"), (self.sync, rid)
            )
        if chosen is None:
            return RecordView(rid, row.data, now, True)
        return RecordView(rid, chosen, now, False)


def _newest_each(items: list[Item]) -> list[Item]:
    """One item per id, the newest updated-at (the first seen of equals): a page may name a
    record twice (two events), and the older must not pass for a change of the newer."""
    chosen: dict[str, Item] = {}
    for item in items:
        kept = chosen.get(item.id)
        if kept is None or (
            item.updated_at is not None
            and (kept.updated_at is None or item.updated_at > kept.updated_at)
        ):
            chosen[item.id] = item
    return list(chosen.values())


def _since(state: State) -> float | None:
    """The next incremental run's start: the newest updated-at this fetch saw, but never
    later than when the fetch began, less the clocks' skew (a record changed while it
    paged, behind its cursor, is asked for again; what comes twice is not written twice)."""
    since = state.since
    high = state.fetch_high
    if high is not None and state.fetch_started is not None:
        high = min(high, state.fetch_started - CLOCK_SKEW_S)
    if high is not None and (since is None or high > since):
        since = high
    return since


_STATE_COLUMNS = (
    "seq, since, fetching, fetch_run, fetch_kind, fetch_cursor, fetch_high, fetched, "
    "fetch_keep, fetch_started, owner, owner_until"
)

_RUN_COLUMNS = (
    "SELECT id, sync, kind, status, created, updated, deleted, unchanged, conflicts, errors, "
    "fetched, started_at, ended_at, error"
)
