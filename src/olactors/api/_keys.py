"""The app's bearer keys: from the variable the config names, or generated once on loopback.

Several keys may be valid at once (a rotation: add the new one, deploy the
app, remove the old). A presented key is compared with every valid one in
constant time, so neither a match nor which key matched shows in the timing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from pathlib import Path

from ..config import ConfigError
from ..state import generated_secret

log = logging.getLogger("olactors.api")

KEY_FILE = "api.key"
#: As much as a 128-bit random key spelled in base64, at least.
MIN_KEY_CHARS = 24


class ApiKeys:
    """The keys a request may present, and who presented one (a short, non-secret id)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("the app API needs at least one key")
        self._keys = [key.encode() for key in keys]

    def holder(self, authorization: str) -> str | None:
        """The id of the key ``Authorization: Bearer <key>`` carries; None if it is not ours."""
        scheme, _, given = authorization.partition(" ")
        presented = given.strip().encode("utf-8", "surrogatepass")
        matched = None
        for key in self._keys:  # every key is compared: the timing says nothing of which
            if hmac.compare_digest(presented, key) and scheme.lower() == "bearer":
                matched = key
        return None if matched is None else key_id(matched)


def key_id(key: bytes) -> str:
    """A name for a key in logs and idempotency records: the start of its SHA-256."""
    return "key_" + hashlib.sha256(key).hexdigest()[:12]


def configured_keys(variable: str, env: Mapping[str, str]) -> list[str] | None:
    """The keys in ``variable`` (comma-separated), if set; ConfigError if one is weak."""
    value = env.get(variable)
    if not value:
        return None
    keys = [key.strip() for key in value.split(",") if key.strip()]
    for key in keys:
        if len(key) < MIN_KEY_CHARS or not key.isprintable() or " " in key:
            raise ConfigError(
                f"{variable}: each app API key has at least {MIN_KEY_CHARS} printable "
                "characters and no spaces"
            )
    return keys


def generated_key(state_dir: Path) -> str:
    """The key in ``<state_dir>/api.key``, written first if there is none."""
    try:
        key, new = generated_secret(state_dir, KEY_FILE, min_chars=MIN_KEY_CHARS)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if new:
        log.warning(
            "no app API key configured: generated one into %s (mode 0600)", state_dir / KEY_FILE
        )
    return key
