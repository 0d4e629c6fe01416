"""The whole configuration: every section, loaded once from TOML and validated together."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from ._base import ConfigError, Section
from .admin import AdminConfig
from .daemon import DaemonConfig, SupervisionConfig
from .delivery import DeliveryConfig
from .log import LogConfig
from .providers import ProviderConfig, default_providers
from .server import ServerConfig
from .store import StoreConfig
from .webhooks import WebhooksConfig

#: Where ``olactors run`` looks when no ``--config`` is given.
DEFAULT_CONFIG_PATH = Path("config/olactors.toml")


class Config(Section):
    daemon: DaemonConfig = DaemonConfig()
    server: ServerConfig = ServerConfig()
    admin: AdminConfig = AdminConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    store: StoreConfig = StoreConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=default_providers)
    webhooks: WebhooksConfig = WebhooksConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    log: LogConfig = LogConfig()

    @model_validator(mode="after")
    def _shutdown_outlasts_the_listeners(self) -> Config:
        # The listeners finish in-flight requests for graceful_timeout_s, then
        # wait for the store: a daemon that forces its shutdown sooner would
        # turn every orderly stop with a request open into a kill.
        needed = self.server.graceful_timeout_s + self.store.timeout_s
        if self.daemon.shutdown_timeout_s <= needed:
            raise ValueError(
                f"daemon.shutdown_timeout_s ({self.daemon.shutdown_timeout_s:g}) must exceed "
                f"server.graceful_timeout_s + store.timeout_s ({needed:g})"
            )
        return self

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
