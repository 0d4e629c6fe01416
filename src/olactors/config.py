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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Section):
    daemon: DaemonConfig = DaemonConfig()
    supervision: SupervisionConfig = SupervisionConfig()
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
