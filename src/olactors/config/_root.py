"""The whole configuration: every section, loaded once from TOML and validated together."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from ..http import bind_host, is_loopback
from ._base import ConfigError, Section
from .admin import AdminConfig
from .api import ApiConfig
from .broadcast import BroadcastConfig
from .chaos import ChaosConfig
from .daemon import DaemonConfig, SupervisionConfig
from .delivery import DeliveryConfig
from .log import LogConfig
from .oauth import OAuthConfig
from .providers import ProviderConfig, default_providers
from .server import ServerConfig
from .storage import StorageConfig
from .store import StoreConfig
from .sync import SyncConfig
from .webhooks import WebhooksConfig

#: Where ``olactors run`` looks first when no ``--config`` is given: the repository's file.
DEFAULT_CONFIG_PATH = Path("config/olactors.toml")
#: The variable naming the configuration file when no ``--config`` is given.
CONFIG_ENV = "OLACTORS_CONFIG"
#: What :meth:`Config.discover` names as the source when no file was found.
EMBEDDED_DEFAULTS = "embedded defaults"
#: Where a packaged install keeps its configuration; looked at after the working directory.
SYSTEM_CONFIG_PATH = Path("/etc/olactors/olactors.toml")


class Config(Section):
    daemon: DaemonConfig = DaemonConfig()
    server: ServerConfig = ServerConfig()
    admin: AdminConfig = AdminConfig()
    api: ApiConfig = ApiConfig()
    broadcast: BroadcastConfig = BroadcastConfig()
    oauth: OAuthConfig = OAuthConfig()
    sync: SyncConfig = SyncConfig()
    storage: StorageConfig = StorageConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    store: StoreConfig = StoreConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=default_providers)
    webhooks: WebhooksConfig = WebhooksConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    log: LogConfig = LogConfig()
    chaos: ChaosConfig = ChaosConfig()

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

    @model_validator(mode="after")
    def _chaos_only_on_loopback(self) -> Config:
        # A daemon another host can reach is a production daemon: crashing its
        # actors on purpose is for a test bench, so [chaos] needs every listener
        # on loopback (decided on resolved addresses, as the admin's token is).
        if not self.chaos.enabled:
            return self
        binds = {
            "server.public_bind": self.server.public_bind,
            "api.bind": self.api.bind,
            "admin.bind": self.admin.bind,
        }
        exposed = [
            f"{key} = {bind}" for key, bind in binds.items() if not is_loopback(bind_host(bind))
        ]
        if exposed:
            raise ValueError(
                f"chaos.enabled is true but {', '.join(exposed)} "
                f"{'is' if len(exposed) == 1 else 'are'} reachable from other hosts: "
                "fault injection is refused beyond loopback (a test bench only, never production)"
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
            config = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from None
        # absolute(), not resolve(): a file reached through a symlink (a
        # Kubernetes ConfigMap) anchors where it was named, not where it lands.
        return config.anchored(path.absolute().parent, only_set=True)

    @classmethod
    def discover(
        cls, path: Path | None, env: Mapping[str, str] | None = None
    ) -> tuple[Config, str]:
        """The configuration to run with, and where it came from.

        In order: ``path`` (``--config``), the file ``$OLACTORS_CONFIG``
        names (either must exist), ``config/olactors.toml`` under the working
        directory, ``/etc/olactors/olactors.toml``, else the embedded
        defaults. Relative paths in a file are read against the file's
        directory (so the daemon finds the same store from wherever it is
        started); the embedded defaults' against the working directory.
        """
        named = (os.environ if env is None else env).get(CONFIG_ENV)
        if path is None and named:
            path = Path(named)
        if path is not None:
            return cls.load(path), str(path.absolute())
        for candidate in (DEFAULT_CONFIG_PATH, SYSTEM_CONFIG_PATH):
            if candidate.is_file():
                return cls.load(candidate), str(candidate.absolute())
        return cls().anchored(Path.cwd()), EMBEDDED_DEFAULTS

    def anchored(self, base: Path, *, only_set: bool = False) -> Config:
        """This configuration with its relative paths (state_dir, sqlite_path, the FCM
        service account, the OAuth vault's key file) under ``base``.

        With ``only_set``, only the paths the file wrote are read against
        ``base`` (its directory); the defaults it left alone are read against
        the working directory, as with no file at all.
        """

        def under(section: Section, field: str) -> Path:
            path: Path = getattr(section, field)
            if path.is_absolute():
                return path
            written = field in section.model_fields_set or not only_set
            return Path(os.path.normpath((base if written else Path.cwd()) / path))

        daemon = self.daemon.model_copy(update={"state_dir": under(self.daemon, "state_dir")})
        store = self.store.model_copy(update={"sqlite_path": under(self.store, "sqlite_path")})
        broadcast = self.broadcast
        if broadcast.fcm_credentials_file is not None:
            anchored = under(broadcast, "fcm_credentials_file")
            broadcast = broadcast.model_copy(update={"fcm_credentials_file": anchored})
        oauth = self.oauth
        if oauth.keys_file is not None:
            oauth = oauth.model_copy(update={"keys_file": under(oauth, "keys_file")})
        sync = self.sync.model_copy(update={"sqlite_path": under(self.sync, "sqlite_path")})
        return self.model_copy(
            update={
                "daemon": daemon,
                "store": store,
                "broadcast": broadcast,
                "oauth": oauth,
                "sync": sync,
            }
        )
