"""The admin token: from the variable the config names, or generated once into a 0600 file.

The admin never runs open. When no token is configured, the first start
writes a random one to ``<state_dir>/admin.token`` (readable by the daemon's
user only) and logs where it is, never what it is; the CLI reads it there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from .. import bearer
from ..state import stored_secret

log = logging.getLogger("olactors.admin")

TOKEN_FILE = "admin.token"  # noqa: S105 -- a file name, not a token
MIN_TOKEN_CHARS = bearer.MIN_CHARS


def configured_token(variable: str, env: Mapping[str, str]) -> str | None:
    """The token in ``variable``, if set; ConfigError (naming only the variable) if weak."""
    value = env.get(variable)
    return bearer.checked(variable, value, "an admin token") if value else None


def generated_token(state_dir: Path) -> str:
    """The token in ``<state_dir>/admin.token``, written first if there is none."""
    return bearer.generated(state_dir, TOKEN_FILE, "admin token")


def stored_token(state_dir: Path) -> str | None:
    """The generated token, if a daemon wrote one there (for the CLI); None otherwise."""
    return stored_secret(state_dir, TOKEN_FILE)
