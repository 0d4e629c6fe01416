"""The messages the store actors take: one Struct per operation.

A backend runs a batch of these in one transaction (sqlite) or one pipeline
(Redis), so every command maps to work that can share a commit.
"""

from __future__ import annotations

from typing import get_args

import msgspec

from ._types import NewItem


class ClaimKey(msgspec.Struct, frozen=True, tag=True):
    key: str
    ttl_s: float


class Enqueue(msgspec.Struct, frozen=True, tag=True):
    queue: str
    item: NewItem
    dedup_key: str | None = None
    dedup_ttl_s: float = 0.0


class Claim(msgspec.Struct, frozen=True, tag=True):
    queue: str
    lease_s: float
    token: str


class Ack(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str
    token: str


class Nack(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str
    token: str
    error: str
    retry_at: float


class Bury(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str
    token: str
    error: str


class ListDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    limit: int
    after: int


class GetDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str


class ReplayDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str


class ReplayAllDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    limit: int


class DeleteDead(msgspec.Struct, frozen=True, tag=True):
    queue: str
    id: str


class Counts(msgspec.Struct, frozen=True, tag=True):
    queue: str


class Queues(msgspec.Struct, frozen=True, tag=True):
    pass


class KvGet(msgspec.Struct, frozen=True, tag=True):
    key: str


class KvPut(msgspec.Struct, frozen=True, tag=True):
    key: str
    value: bytes
    ttl_s: float | None = None


class KvDelete(msgspec.Struct, frozen=True, tag=True):
    key: str


Write = (
    ClaimKey
    | Enqueue
    | Claim
    | Ack
    | Nack
    | Bury
    | ReplayDead
    | ReplayAllDead
    | DeleteDead
    | KvPut
    | KvDelete
)
Read = ListDead | GetDead | Counts | Queues | KvGet
Command = Write | Read

#: Commands that change state and so go to the writer.
WRITES: tuple[type[msgspec.Struct], ...] = get_args(Write)
