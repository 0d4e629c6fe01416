"""The sqlite store's schema, its version, and the steps from each older version."""

from __future__ import annotations

import sqlite3

from . import _sqlite_eventlog as eventlog

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedup (
    key TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    queue TEXT NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0,
    -- when the item may next be claimed: not-before, retry time or lease expiry
    available_at REAL NOT NULL,
    lease_token TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    meta BLOB NOT NULL,
    payload BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    last_error TEXT,
    dead_at REAL,
    -- items sharing a non-empty order key go one at a time: the later ones are
    -- held (available_at = HELD_AT) until the one before them is acked or buried
    order_key TEXT NOT NULL DEFAULT '',
    held INTEGER NOT NULL DEFAULT 0,
    -- ids are unique per queue: one event may be fanned out to several queues
    UNIQUE (queue, id)
);
CREATE INDEX IF NOT EXISTS items_claimable ON items (queue, dead, available_at);
CREATE INDEX IF NOT EXISTS items_order ON items (queue, order_key, seq) WHERE order_key != '';

CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL
) WITHOUT ROWID;
"""

#: The schema this code writes; a file with a newer one is refused.
SCHEMA_VERSION = 2

#: What each older schema needs to become the current one.
MIGRATIONS = {
    1: (
        "ALTER TABLE items ADD COLUMN order_key TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE items ADD COLUMN held INTEGER NOT NULL DEFAULT 0",
    ),
}

#: ``available_at`` of a held item: later than any claim looks, so the
#: claim index passes it over without a column of its own.
HELD_AT = 1e18


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file's schema to ``SCHEMA_VERSION``; refuse a newer one."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {version} is newer than this olactors ({SCHEMA_VERSION})"
        )
    # One transaction: a crash half-way leaves the old version, whole.
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS.get(version, ()):
            conn.execute(step)
        for statement in (SCHEMA + eventlog.SCHEMA).split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
