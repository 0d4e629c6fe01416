"""The sync capability's share of the tree, the app API and the admin listener."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ..admin import AdminPart
from ..api import ApiPart
from ..config import Config, ConfigError, read_secret
from ..config.sync import SyncEntry
from ..delivery import Destination
from ..oauth import OAuth
from ..provider_clients import provider_client
from ..runtime import ActorContext, ActorSpec, SupervisorSpec
from ..store import STORE_PATH, Store
from ._actor import SyncActor
from ._admin import sync_admin
from ._api import sync_part
from ._http import HttpSource
from ._instagram import InstagramSource
from ._route import SyncDestination
from ._service import SyncService
from ._source import Source
from ._sql import Database, open_postgres, open_sqlite
from ._stripe import StripeSource
from ._tables import Policy


class Sync:
    """Every ``[sync.syncs.<name>]``, checked against the providers and connections it
    needs when the daemon starts, not at its first run."""

    def __init__(self, config: Config, env: Mapping[str, str], oauth: OAuth) -> None:
        settings = config.sync
        self.config = config
        self.env = env
        self.oauth = oauth
        self.entries = dict(settings.syncs)
        if settings.database_url is not None:
            password = (
                read_secret(env, settings.password_env, "sync.password_env")
                if settings.password_env
                else None
            )
            self.open_db: Callable[[], Database] = partial(
                open_postgres, settings.database_url, password
            )
        else:
            self.open_db = partial(open_sqlite, settings.sqlite_path)
        for name, entry in self.entries.items():
            self._check(name, entry)

    def _check(self, name: str, entry: SyncEntry) -> None:
        where = f"sync.syncs.{name}"
        provider = {"stripe": "stripe", "instagram": "instagram"}.get(entry.source, entry.provider)
        if provider not in self.config.providers:
            raise ConfigError(f"{where}: no [providers.{provider}] to call it through")
        if entry.source == "instagram" and "instagram" not in self.oauth.providers:
            raise ConfigError(f"{where}: Instagram media needs [oauth.providers.instagram]")
        secret = self.config.providers[provider].secret_env
        if entry.source == "stripe" and secret is not None:
            read_secret(self.env, secret, f"providers.{provider}.secret_env")
        if entry.auth_env is not None:
            read_secret(self.env, entry.auth_env, f"{where}.auth_env")

    def spec(self, supervised: Mapping[str, Any]) -> SupervisorSpec:
        """``/root/sync/<name>``: one actor per sync."""
        children = [
            ActorSpec(
                name,
                partial(
                    SyncActor,
                    name,
                    entry.every_s,
                    Policy(entry.conflict, entry.winner, entry.allow_deletions),
                    self.open_db,
                    partial(self._source, entry),
                ),
            )
            for name, entry in self.entries.items()
        ]
        return SupervisorSpec("sync", children=children, **supervised)

    def _source(self, entry: SyncEntry, context: ActorContext) -> Source:
        config, env = self.config, self.env
        if entry.source == "stripe":
            assert entry.object is not None
            client = provider_client(config, "stripe", context, env)
            return StripeSource(client, entry.object, entry.page_size)
        if entry.source == "instagram":
            assert entry.user is not None
            user = entry.user
            store = Store.at(context, STORE_PATH, timeout_s=config.store.timeout_s)
            refresher = self.oauth.refresher(context, store)
            provider = self.oauth.providers["instagram"]

            async def token() -> str:
                return (await refresher.fresh(provider, user)).access_token

            client = provider_client(config, "instagram", context, env, with_key=False)
            return InstagramSource(client, token, entry.page_size)
        assert entry.provider is not None
        bearer = read_secret(env, entry.auth_env, "auth_env") if entry.auth_env else None
        client = provider_client(config, entry.provider, context, env, with_key=bearer is None)
        return HttpSource(client, entry, bearer)

    def route(self, sync: str, id_path: str) -> Callable[[ActorContext], Destination]:
        """A webhook route's destination refreshing records of ``sync`` (a ConfigError now
        if there is no such sync)."""
        if sync not in self.entries:
            raise ConfigError(f"a webhook route names sync {sync!r}, which is not configured")
        return lambda context: SyncDestination(context, sync, id_path)

    def service(self, context: ActorContext) -> SyncService:
        return SyncService(list(self.entries), self.open_db, context)

    def api(self) -> ApiPart:
        return sync_part(self.service)

    def admin(self) -> AdminPart:
        return sync_admin(self.entries, self.service)
