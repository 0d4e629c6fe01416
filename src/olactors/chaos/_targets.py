"""Which actors a random crash may hit: path globs, with the store kept out unless named."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from ..store import STORE_PATH

_GLOB = frozenset("*?[")


class Targets:
    """Actor path patterns: ``*``, ``?`` and ``[...]`` within one segment, ``**`` any number
    of segments (``/root/delivery/*/*`` is every courier, ``/root/**`` every actor).

    The store is where every acknowledged event lives: crashing it stalls
    the whole daemon, which is another experiment than crashing one courier.
    So a path under ``/root/store`` matches only a pattern that spells that
    prefix out (``/root/store/*``); ``/root/**`` alone leaves the store out.
    """

    def __init__(
        self, patterns: Sequence[str], *, protected: Sequence[str] = (STORE_PATH,)
    ) -> None:
        self.patterns = list(patterns)
        self._split = [pattern.strip("/").split("/") for pattern in self.patterns]
        self._protected = list(protected)

    def match(self, path: str) -> str | None:
        """The first pattern ``path`` matches, or None."""
        segments = path.strip("/").split("/")
        guarded = next((p for p in self._protected if _under(path, p)), None)
        for pattern, split in zip(self.patterns, self._split, strict=True):
            if guarded is not None and not _under(_literal_prefix(split), guarded):
                continue
            if _matches(split, segments):
                return pattern
        return None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _literal_prefix(split: list[str]) -> str:
    """The pattern's leading segments up to its first wildcard, as a path."""
    literal: list[str] = []
    for segment in split:
        if _GLOB & set(segment):
            break
        literal.append(segment)
    return "/" + "/".join(literal)


def _matches(pattern: list[str], segments: list[str]) -> bool:
    if not pattern:
        return not segments
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, segments[i:]) for i in range(len(segments) + 1))
    return bool(segments) and fnmatchcase(segments[0], head) and _matches(rest, segments[1:])
