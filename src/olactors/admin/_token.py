"""The admin token: from the variable the config names, or generated once into a 0600 file.

The admin never runs open. When no token is configured, the first start
writes a random one to ``<state_dir>/admin.token`` (readable by the daemon's
user only) and logs where it is, never what it is; the CLI reads it there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ..config import ConfigError
from ..state import generated_secret, stored_secret

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
    try:
        token, new = generated_secret(state_dir, TOKEN_FILE, min_chars=MIN_TOKEN_CHARS)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if new:
        log.warning(
            "no admin token configured: generated one into %s (mode 0600)", state_dir / TOKEN_FILE
        )
    return token


def stored_token(state_dir: Path) -> str | None:
    """The generated token, if a daemon wrote one there (for the CLI); None otherwise."""
    return stored_secret(state_dir, TOKEN_FILE)
