"""The two databases a sync keeps records in, and the one schema written for both.

Statements are written once, with ``?`` placeholders and the dialect's
spelling of a JSON column, a boolean and a list of ids; sqlite keeps JSON
as text, PostgreSQL as ``jsonb`` (so the app can query it there directly).
Both run in worker threads: psycopg's async mode needs asyncio, and
sqlite3 has no async mode at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

#: A sqlite writer waits this long for another connection's transaction.
BUSY_TIMEOUT_MS = 10_000
#: What either database raises when it is down, busy or refuses a statement.
DATABASE_ERRORS = (sqlite3.Error, psycopg.Error, OSError)


class Cursor(Protocol):
    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


@dataclass
class Database:
    """One connection and how to speak to it. Not safe for two threads at once: the
    sync actor that owns it makes one call at a time."""

    connection: Any
    postgres: bool

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def json_in(self) -> str:
        """The placeholder of a JSON value sent as text."""
        return "CAST(%s AS jsonb)" if self.postgres else "?"

    def json_out(self, column: str) -> str:
        return f"{column}::text" if self.postgres else column

    def any_of(self, column: str, count: int) -> tuple[str, bool]:
        """``column`` in a list of ``count`` values: the condition, and whether the list goes
        as one parameter (PostgreSQL's ANY) or one per value (sqlite's IN)."""
        if self.postgres:
            return f"{column} = ANY(%s)", True
        return f"{column} IN ({','.join('?' * count)})", False

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self.postgres:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                yield cursor
            return
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        try:
            yield cursor
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()

    def broken(self) -> bool:
        """Whether the connection is gone (the server restarted, the network dropped it)."""
        return bool(self.postgres and (self.connection.closed or self.connection.broken))


def open_sqlite(path: Path) -> Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # a committed run survives a power cut
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return Database(connection, postgres=False)


def open_postgres(url: str, password: str | None) -> Database:
    connection = (
        psycopg.connect(url, autocommit=True)
        if password is None
        else psycopg.connect(url, autocommit=True, password=password)
    )
    return Database(connection, postgres=True)


def schema(db: Database, table: str) -> list[str]:
    """The statements that create one sync's tables (and the shared ones), if missing."""
    text, json, real, flag, big = (
        ("TEXT", "JSONB", "DOUBLE PRECISION", "BOOLEAN", "BIGINT")
        if db.postgres
        else ("TEXT", "TEXT", "REAL", "INTEGER", "INTEGER")
    )
    return [
        # data: the record as the app sees it; base: the last version both
        # sides agreed on (a three-way merge's base); local_changed: data
        # differs from base because of a local write.
        f"""CREATE TABLE IF NOT EXISTS {table} (
            id {text} PRIMARY KEY, data {json} NOT NULL, hash {text} NOT NULL,
            updated_at {real}, external_updated_at {real}, local_updated_at {real},
            base {json}, base_hash {text}, local_changed {flag} NOT NULL,
            deleted {flag} NOT NULL, seq {big} NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {table}_seq ON {table} (seq, id)",
        # One run's fetched pages: what changed in full, what did not by id
        # and hash only (for the deletions after a complete fetch).
        f"""CREATE TABLE IF NOT EXISTS {table}_staging (
            id {text} PRIMARY KEY, data {json}, hash {text} NOT NULL,
            updated_at {real}, deleted {flag} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS sync_state (
            sync {text} PRIMARY KEY, seq {big} NOT NULL, since {real},
            fetching {flag} NOT NULL, fetch_run {text}, fetch_kind {text},
            fetch_cursor {text}, fetch_high {real}, fetched {big} NOT NULL,
            fetch_keep {flag} NOT NULL DEFAULT FALSE, fetch_started {real},
            owner {text}, owner_until {real})""",
        f"""CREATE TABLE IF NOT EXISTS sync_runs (
            id {text} PRIMARY KEY, sync {text} NOT NULL, kind {text} NOT NULL,
            status {text} NOT NULL, created {big} NOT NULL, updated {big} NOT NULL,
            deleted {big} NOT NULL, unchanged {big} NOT NULL, conflicts {big} NOT NULL,
            errors {big} NOT NULL, fetched {big} NOT NULL, started_at {real} NOT NULL,
            ended_at {real}, error {text})""",
        "CREATE INDEX IF NOT EXISTS sync_runs_by_sync ON sync_runs (sync, started_at)",
        f"""CREATE TABLE IF NOT EXISTS sync_conflicts (
            sync {text} NOT NULL, id {text} NOT NULL, external {json}, external_hash {text},
            local {json}, base {json}, external_updated_at {real}, local_updated_at {real},
            detected_at {real} NOT NULL, run {text}, PRIMARY KEY (sync, id))""",
    ]
