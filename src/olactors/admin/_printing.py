"""How the admin commands print: aligned tables, ISO times, and a line for an empty list."""

from __future__ import annotations

from collections.abc import Sequence

from ..times import iso_utc


def iso(unix: float | None) -> str:
    """A unix time as ISO 8601 in UTC, to the second (``-`` for none)."""
    return "-" if unix is None else iso_utc(unix)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str) -> str:
    """``rows`` under ``headers``, each column as wide as its widest cell; ``empty`` if none.

    The last column is not padded (it holds free text: an error, a reason).
    """
    if not rows:
        return empty
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    lines = []
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
