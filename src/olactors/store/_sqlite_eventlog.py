"""The event log in sqlite: one row per event, its destinations and attempts as JSON.

Attempts live in the event's row rather than a table of their own: an event
has a handful, they are always read with it, and appending one is part of a
settle that rewrites the row's state anyway.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from ._errors import ItemNotFound
from ._eventlog import (
    PENDING,
    Attempt,
    EventPage,
    EventRecord,
    EventSummary,
    GetEvent,
    ListEvents,
    Publish,
    event_status,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    received_at REAL NOT NULL,
    retention_s REAL NOT NULL,
    -- received or last settled, plus the retention (never purged while pending)
    expires_at REAL NOT NULL,
    status TEXT NOT NULL,
    empty_status TEXT NOT NULL,
    destinations BLOB NOT NULL,
    payload BLOB NOT NULL,
    meta BLOB NOT NULL,
    attempts BLOB NOT NULL,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (namespace, id)
);
CREATE INDEX IF NOT EXISTS events_listing ON events (namespace, seq);
CREATE INDEX IF NOT EXISTS events_expiry ON events (expires_at);
"""

_states = msgspec.json.Decoder(dict[str, str])
_attempts = msgspec.json.Decoder(list[Attempt])
_encode = msgspec.json.encode


def insert_event(db: sqlite3.Connection, command: Publish, now: float) -> bool:
    """Add the event's row; False if the namespace already has that id."""
    destinations = {d.destination: PENDING for d in command.deliveries}
    cursor = db.execute(
        "INSERT INTO events (namespace, id, type, received_at, retention_s, expires_at, "
        "status, empty_status, destinations, payload, meta, attempts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]') "
        "ON CONFLICT (namespace, id) DO NOTHING",
        (
            command.namespace,
            command.id,
            command.event_type,
            now,
            command.retention_s,
            now + command.retention_s,
            event_status(destinations, command.empty_status),
            command.empty_status,
            _encode(destinations),
            command.payload,
            _encode(command.meta),
        ),
    )
    return cursor.rowcount == 1


def record(
    db: sqlite3.Connection,
    namespace: str,
    event_id: str,
    destination: str,
    state: str,
    attempt: Attempt | None,
    now: float,
) -> None:
    """Set one destination's state and append its attempt; an expired event is left alone."""
    row = db.execute(
        "SELECT seq, destinations, attempts, attempt_count, retention_s, empty_status "
        "FROM events WHERE namespace = ? AND id = ? AND (expires_at > ? OR status = ?)",
        (namespace, event_id, now, PENDING),
    ).fetchone()
    if row is None:
        return
    seq, raw_states, attempts, count, retention_s, empty_status = row
    states = _states.decode(raw_states)
    states[destination] = state
    if attempt is not None:
        # Appended to the JSON array as text: the attempts before are not decoded.
        raw = attempts.encode() if isinstance(attempts, str) else bytes(attempts)
        attempts = raw[:-1] + (b"," if count else b"") + _encode(attempt) + b"]"
        count += 1
    db.execute(
        "UPDATE events SET destinations = ?, attempts = ?, attempt_count = ?, status = ?, "
        "expires_at = MAX(expires_at, ?) WHERE seq = ?",
        (
            _encode(states),
            attempts,
            count,
            event_status(states, empty_status),
            now + retention_s,
            seq,
        ),
    )


def add_destinations(
    db: sqlite3.Connection, namespace: str, event_id: str, names: list[str], now: float
) -> list[str]:
    """Mark ``names`` pending on the event, skipping those it has; return those added."""
    row = db.execute(
        "SELECT seq, destinations, empty_status FROM events "
        "WHERE namespace = ? AND id = ? AND (expires_at > ? OR status = ?)",
        (namespace, event_id, now, PENDING),
    ).fetchone()
    if row is None:
        raise ItemNotFound(namespace, event_id)
    seq, raw_states, empty_status = row
    states = _states.decode(raw_states)
    added = [name for name in names if name not in states]
    if added:
        states.update(dict.fromkeys(added, PENDING))
        db.execute(
            "UPDATE events SET destinations = ?, status = ? WHERE seq = ?",
            (_encode(states), event_status(states, empty_status), seq),
        )
    return added


def list_events(db: sqlite3.Connection, command: ListEvents, now: float) -> EventPage:
    # Expired rows wait for the purge; they are gone already for readers.
    where = ["namespace = ?", "(expires_at > ? OR status = ?)"]
    args: list[Any] = [command.namespace, now, PENDING]
    if command.before:
        where.append("seq < ?")
        args.append(command.before)
    if command.event_type:
        where.append("type = ?")
        args.append(command.event_type)
    if command.destination:
        # Destination names are [A-Za-z0-9_.-]: safe inside a quoted JSON path.
        path = f'$."{command.destination}"'
        if command.status:
            where.append("json_extract(destinations, ?) = ?")
            args += [path, command.status]
        else:
            where.append("json_extract(destinations, ?) IS NOT NULL")
            args.append(path)
    elif command.status:
        where.append("status = ?")
        args.append(command.status)
    rows = db.execute(
        "SELECT namespace, id, type, received_at, status, destinations, attempt_count, seq "  # noqa: S608 -- fixed clauses, values bound
        f"FROM events WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
        (*args, command.limit + 1),
    ).fetchall()
    items = [
        EventSummary(
            namespace=namespace,
            id=event_id,
            type=event_type,
            received_at=received_at,
            status=status,
            destinations=_states.decode(states),
            attempts=count,
            cursor=seq,
        )
        for namespace, event_id, event_type, received_at, status, states, count, seq in rows[
            : command.limit
        ]
    ]
    more = len(rows) > command.limit
    return EventPage(items=items, next_cursor=items[-1].cursor if more else None)


def get_event(db: sqlite3.Connection, command: GetEvent, now: float) -> EventRecord:
    row = db.execute(
        "SELECT type, received_at, status, destinations, payload, meta, attempts "
        "FROM events WHERE namespace = ? AND id = ? AND (expires_at > ? OR status = ?)",
        (command.namespace, command.id, now, PENDING),
    ).fetchone()
    if row is None:
        raise ItemNotFound(command.namespace, command.id)
    event_type, received_at, status, states, payload, meta, attempts = row
    return EventRecord(
        namespace=command.namespace,
        id=command.id,
        type=event_type,
        received_at=received_at,
        status=status,
        destinations=_states.decode(states),
        payload=bytes(payload),
        meta=_states.decode(meta),
        attempts=_attempts.decode(attempts),
    )


def purge(db: sqlite3.Connection, now: float, limit: int) -> bool:
    """Drop a slice of expired, settled events; True if the slice was full."""
    cursor = db.execute(
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
        "WHERE expires_at <= ? AND status != ? LIMIT ?)",
        (now, PENDING, limit),
    )
    return cursor.rowcount == limit
