"""A record's versions and content hash: what a sync compares.

A record is a JSON object. Its hash is that of its canonical JSON (keys
sorted), so the same content fetched twice, in whatever key order, is the
same record and is not written again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

Record = dict[str, Any]

_encoder = msgspec.json.Encoder(order="sorted")


def canonical(data: Record) -> bytes:
    return _encoder.encode(data)


def canonical_value(value: Any) -> bytes:
    """Any JSON value's canonical text (keys sorted)."""
    return _encoder.encode(value)


def content_hash(data: Record) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()
