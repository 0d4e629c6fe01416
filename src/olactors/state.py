"""The daemon's state directory: private to its user, as is every file in it.

It holds the generated admin token (and, by default, the sqlite database),
so it is created ``0700`` and its files ``0600``. A file found readable by
others is tightened, with a warning; a directory that already exists is the
operator's (it may be ``/var``): it gets a warning, never a chmod.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("olactors.state")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) ``0700`` if missing; warn if it exists and is open."""
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        return path
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        log.warning("%s is mode %o: others can enter it (its files are 0600)", path, current)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, ``0600``; tighten it if others could read it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        _tighten(path, PRIVATE_FILE)
    return path


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        log.warning("%s was mode %o; tightened to %o", path, current, mode)
        path.chmod(mode)
