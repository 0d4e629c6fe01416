"""The admin token: from the variable the config names, or generated once into a 0600 file.

The admin never runs open. When no token is configured, the first start
writes a random one to ``<state_dir>/admin.token`` (readable by the daemon's
user only) and logs where it is, never what it is; the CLI reads it there.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from ..config import ConfigError
from ..state import PRIVATE_FILE, private_dir, private_file

log = logging.getLogger("olactors.admin")

TOKEN_FILE = "admin.token"  # noqa: S105 -- a file name, not a token
#: As much as a 128-bit random token spelled in base64, at least.
MIN_TOKEN_CHARS = 24


def configured_token(variable: str, env: Mapping[str, str]) -> str | None:
    """The token in ``variable``, if set; ConfigError (naming only the variable) if weak."""
    token = env.get(variable)
    if not token:
        return None
    if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or " " in token:
        raise ConfigError(
            f"{variable}: an admin token has at least {MIN_TOKEN_CHARS} printable characters "
            "and no spaces"
        )
    return token


def generated_token(state_dir: Path) -> str:
    """The token in ``<state_dir>/admin.token``, written first if there is none."""
    path = private_dir(state_dir) / TOKEN_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return _read(private_file(path))
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token + "\n")
        file.flush()
        os.fsync(file.fileno())
    log.warning("no admin token configured: generated one into %s (mode 0600)", path)
    return token


def _read(path: Path) -> str:
    token = path.read_text(encoding="ascii").strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{path} holds no usable admin token; delete it to get a new one")
    return token


def stored_token(state_dir: Path) -> str | None:
    """The generated token, if a daemon wrote one there (for the CLI); None otherwise."""
    try:
        return (state_dir / TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except OSError:
        return None
