"""``[store]``: where durable state lives."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator

from ..store import BackendFactory, RedisBackend, SqliteBackend
from ._base import Section, read_secret

#: A backend's own time limit (sqlite busy timeout, Redis socket timeout) as a
#: share of the store's ask timeout: a batch that cannot finish fails, with
#: nothing written, before the callers waiting on it give up.
BACKEND_SHARE_OF_TIMEOUT = 0.4


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

    @property
    def shared(self) -> bool:
        """Whether other replicas share this store (Redis), and so budgets and caches too."""
        return self.backend == "redis"

    def redis_password(self, env: Mapping[str, str]) -> str | None:
        """The Redis password from the variable ``redis_password_env`` names, if it names one."""
        if self.redis_password_env is None:
            return None
        return read_secret(env, self.redis_password_env, "store.redis_password_env")

    def backends(self, env: Mapping[str, str]) -> BackendFactory:
        """Builds a backend for a role ("writer" or "reader"); secrets read from ``env`` now."""
        limit_s = self.timeout_s * BACKEND_SHARE_OF_TIMEOUT
        if self.backend == "sqlite":
            path, synchronous = self.sqlite_path, self.sqlite_synchronous
            return lambda role: SqliteBackend(
                path,
                role=role,
                synchronous=synchronous,
                busy_timeout_s=limit_s,
            )
        url, prefix, password = self.redis_url, self.redis_prefix, self.redis_password(env)
        connect_s = min(self.redis_connect_timeout_s, limit_s)
        return lambda role: RedisBackend(
            url, prefix=prefix, password=password, connect_timeout_s=connect_s, timeout_s=limit_s
        )
