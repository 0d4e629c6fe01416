"""The daemon's state directory: private to its user, as is every file in it.

It holds the generated secrets (the admin token, the app API key, the
subscriber token key) and, by default, the sqlite database,
so it is created ``0700`` and its files ``0600``. A file found readable by
others is tightened, with a warning; a directory that already exists is the
operator's (it may be ``/var``): it gets a warning, never a chmod.
"""

from __future__ import annotations

import logging
import os
import secrets
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


def generated_secret(state_dir: Path, name: str, *, min_chars: int = 24) -> tuple[str, bool]:
    """The secret in ``<state_dir>/<name>``, and whether it was written just now.

    Written once, random (256 bits), ``0600`` and fsynced, by whichever
    start gets there first; read back at every later start. The secret is
    written whole into a file of this process's own, then linked to its name
    (a link never replaces a file): processes starting together on one state
    directory never see a file half written. ValueError when the file holds
    nothing usable (delete it for a new one).
    """
    path = private_dir(state_dir) / name
    if not path.exists():
        draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        secret = secrets.token_urlsafe(32)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(secret + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.link(draft, path)
        except FileExistsError:
            pass  # another process got there first: its secret is the one
        else:
            _sync_dir(path.parent)
            return secret, True
        finally:
            draft.unlink(missing_ok=True)
    secret = private_file(path).read_text(encoding="ascii").strip()
    if len(secret) < min_chars:
        raise ValueError(f"{path} holds no usable secret; delete it to get a new one")
    return secret, False


def _sync_dir(path: Path) -> None:
    """Make a new name in ``path`` survive a power cut."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def stored_secret(state_dir: Path, name: str) -> str | None:
    """The secret a daemon generated into ``<state_dir>/<name>``, if any (for the CLI)."""
    try:
        return (state_dir / name).read_text(encoding="ascii").strip() or None
    except OSError:
        return None
