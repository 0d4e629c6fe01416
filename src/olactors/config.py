"""The daemon's one configuration object, loaded from TOML and passed down.

No other module reads the configuration file or the environment on its own:
the CLI loads a :class:`Config` once and hands it to whoever needs a part of
it. The defaults below *are* the embedded default configuration, and
``config/olactors.toml`` spells them out (a test keeps the two equal).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .runtime import Backoff

#: Where ``olactors run`` looks when no ``--config`` is given.
DEFAULT_CONFIG_PATH = Path("config/olactors.toml")


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or not valid."""


class _Section(BaseModel):
    # Unknown keys are typos until proven otherwise: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaemonConfig(_Section):
    #: How long an orderly shutdown may take before it is forced.
    shutdown_timeout_s: float = Field(default=30.0, gt=0)


class SupervisionConfig(_Section):
    """Defaults for every supervisor in the tree: Erlang/OTP's intensity."""

    max_restarts: int = Field(default=1, ge=0)
    within_s: float = Field(default=5.0, gt=0)
    backoff_initial_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=5.0, ge=0)
    backoff_multiplier: float = Field(default=2.0, ge=1)
    backoff_jitter: float = Field(default=0.5, ge=0, le=1)

    def backoff(self) -> Backoff:
        return Backoff(
            initial_s=self.backoff_initial_s,
            multiplier=self.backoff_multiplier,
            max_s=self.backoff_max_s,
            jitter=self.backoff_jitter,
        )


class StoreConfig(_Section):
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
        if parts.password:
            raise ValueError("must not hold a password: name its variable in redis_password_env")
        return url


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Section):
    daemon: DaemonConfig = DaemonConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    store: StoreConfig = StoreConfig()
    log: LogConfig = LogConfig()

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read and validate ``path``; :class:`ConfigError` says what is wrong, and where."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from None

    @classmethod
    def discover(cls, path: Path | None) -> tuple[Config, str]:
        """The configuration to run with, and where it came from.

        An explicit ``path`` must exist. Without one, ``config/olactors.toml``
        under the working directory is used when present, else the embedded
        defaults.
        """
        if path is not None:
            return cls.load(path), str(path)
        if DEFAULT_CONFIG_PATH.is_file():
            return cls.load(DEFAULT_CONFIG_PATH), str(DEFAULT_CONFIG_PATH)
        return cls(), "embedded defaults"
