"""Who wins when both sides changed a record since the last sync.

Pure functions over versions, so their laws are checked as properties:
last-write-wins picks the same version whatever order the same changes
come in, and a three-way merge of changes to different fields keeps both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ._records import Record, canonical_value

Side = Literal["external", "local"]


@dataclass(frozen=True, slots=True)
class Version:
    """One side's version of a record: its content (None: deleted), hash and updated-at."""

    data: Record | None
    hash: str
    updated_at: float | None


def newer(a: Version, b: Version) -> Version:
    """Last write wins: the later updated-at, and on a tie (or none known) the greater
    content hash, a choice that depends on nothing but the two versions."""

    def key(version: Version) -> tuple[float, str]:
        return (-math.inf if version.updated_at is None else version.updated_at, version.hash)

    return a if key(a) >= key(b) else b


#: A field's value missing from a record (distinct from a JSON null).
_ABSENT = object()


def merge(
    base: Record | None, local: Record | None, external: Record | None, winner: Side
) -> Record | None:
    """The three-way field merge of ``local`` and ``external`` against ``base`` (the last
    synced version): a top-level field changed on one side only takes that change; one
    changed on both to different values goes to ``winner``. A side that deleted the
    record (None) against one that changed it: ``winner`` decides."""
    if local is None or external is None:
        if local == external:
            return None
        return external if winner == "external" else local
    base = base or {}
    merged: Record = {}
    for field in sorted(set(base) | set(local) | set(external)):
        was = base.get(field, _ABSENT)
        ours = local.get(field, _ABSENT)
        theirs = external.get(field, _ABSENT)
        if _same(ours, theirs):
            value = ours
        elif _same(ours, was):
            value = theirs
        elif _same(theirs, was):
            value = ours
        else:
            value = theirs if winner == "external" else ours
        if value is not _ABSENT:
            merged[field] = value
    return merged


def _same(a: object, b: object) -> bool:
    """Equal as JSON: 1 and true, 1 and 1.0 are different values here (Python's == says
    they are one), and an absent field is none of them."""
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return canonical_value(a) == canonical_value(b)
