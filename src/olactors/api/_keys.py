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

from .. import bearer

log = logging.getLogger("olactors.api")

KEY_FILE = "api.key"


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
    return bearer.configured(variable, env, "each app API key")


def generated_key(state_dir: Path) -> str:
    """The key in ``<state_dir>/api.key``, written first if there is none."""
    return bearer.generated(state_dir, KEY_FILE, "app API key")
