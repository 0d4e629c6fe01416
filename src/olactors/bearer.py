"""Bearer secrets a listener checks: from a variable the config names, or generated once.

The admin token and the app API keys work the same way. A configured one
must look like a secret (long, printable, no spaces); without one, a
listener on loopback generates its own into the state directory (0600) and
logs where, never what.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from .config import ConfigError
from .state import generated_secret

log = logging.getLogger("olactors.bearer")

#: As much as a 128-bit random secret spelled in base64, at least.
MIN_CHARS = 24


def checked(variable: str, value: str, what: str, *, min_chars: int = MIN_CHARS) -> str:
    """``value`` if it can be a secret; ConfigError naming ``variable`` (never the value)."""
    if len(value) < min_chars or not value.isprintable() or " " in value:
        raise ConfigError(
            f"{variable}: {what} has at least {min_chars} printable characters and no spaces"
        )
    return value


def configured(variable: str, env: Mapping[str, str], what: str) -> list[str] | None:
    """The secrets in ``variable`` (comma-separated: several during a rotation), if set."""
    value = env.get(variable)
    if not value:
        return None
    return [checked(variable, part.strip(), what) for part in value.split(",") if part.strip()]


def generated(state_dir: Path, name: str, what: str, *, min_chars: int = MIN_CHARS) -> str:
    """The secret in ``<state_dir>/<name>``, written first if there is none (and said so)."""
    try:
        secret, new = generated_secret(state_dir, name, min_chars=min_chars)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if new:
        log.warning("no %s configured: generated one into %s (mode 0600)", what, state_dir / name)
    return secret
