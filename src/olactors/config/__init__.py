"""The daemon's one configuration object, loaded from TOML and passed down.

No other module reads the configuration file or the environment on its own:
the CLI loads a :class:`Config` once and hands it to whoever needs a part of
it. The defaults below *are* the embedded default configuration, and
``config/olactors.toml`` spells them out (a test keeps the two equal).

One module per section (``server``, ``admin``, ``store``...); this package
re-exports what the rest of olactors uses.
"""

from ._base import ConfigError, Section
from ._root import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    EMBEDDED_DEFAULTS,
    SYSTEM_CONFIG_PATH,
    Config,
)
from .admin import AdminConfig
from .api import ApiConfig
from .broadcast import BroadcastConfig
from .chaos import ChaosConfig
from .daemon import DaemonConfig, SupervisionConfig
from .delivery import DeliveryConfig
from .log import LogConfig
from .providers import BreakerConfig, ProviderConfig
from .secrets import NamedSecret, describe_missing, missing_secrets, named_secrets, read_secret
from .server import ServerConfig, process_count
from .store import StoreConfig
from .webhooks import (
    OrderingConfig,
    RouteBreakerConfig,
    RouteConfig,
    SourceConfig,
    SourceKind,
    WebhooksConfig,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "EMBEDDED_DEFAULTS",
    "SYSTEM_CONFIG_PATH",
    "AdminConfig",
    "ApiConfig",
    "BreakerConfig",
    "BroadcastConfig",
    "ChaosConfig",
    "Config",
    "ConfigError",
    "DaemonConfig",
    "DeliveryConfig",
    "LogConfig",
    "NamedSecret",
    "OrderingConfig",
    "ProviderConfig",
    "RouteBreakerConfig",
    "RouteConfig",
    "Section",
    "ServerConfig",
    "SourceConfig",
    "SourceKind",
    "StoreConfig",
    "SupervisionConfig",
    "WebhooksConfig",
    "describe_missing",
    "missing_secrets",
    "named_secrets",
    "process_count",
    "read_secret",
]
