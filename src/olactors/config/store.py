"""``[store]``: where durable state lives."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator

from ._base import Section


class StoreConfig(Section):
    """Where durable state lives: an embedded sqlite file, or a Redis shared by replicas."""

    backend: Literal["sqlite", "redis"] = "sqlite"
    sqlite_path: Path = Path("var/olactors.db")
    #: FULL fsyncs at every commit; NORMAL may lose the last commits on power loss.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: The environment variable that holds the Redis password, if it needs one.
    redis_password_env: str | None = None
    redis_prefix: str = "olactors"
    redis_connect_timeout_s: float = Field(default=1.0, gt=0)
    #: How long a store call may take before the caller gets StoreUnavailable.
    timeout_s: float = Field(default=5.0, gt=0)
    #: Commands per shared commit at most (one sqlite transaction, one Redis pipeline).
    max_batch: int = Field(default=512, ge=1)

    @field_validator("redis_url")
    @classmethod
    def _no_password_in_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        # redis-py also reads a password from the query (?password=): refuse
        # it there too, so a secret never sits in a file or a printed URL. A
        # user name alone (Redis ACL) is not a secret.
        query = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
        if parts.password is not None or "password" in query:
            raise ValueError(
                "must not hold credentials: name the password's variable in redis_password_env"
            )
        return url
