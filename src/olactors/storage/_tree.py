"""The storage capability's share of the tree, the resilience budgets and the app API."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from ..admin import AdminPart
from ..api import ApiPart
from ..config import Config, read_secret
from ..config.storage import StorageProviderConfig
from ..delivery import DestinationSpec, RetryPolicy, SlotPool, courier_spec, wake_courier
from ..resilience import RESILIENCE_PATH, BreakerSettings, ProviderGuard, RateLimit
from ..runtime import ActorContext, ActorSpec, SupervisorSpec
from ..store import STORE_PATH, Store
from ._admin import storage_admin
from ._api import storage_part
from ._calls import StoreHttp, http_client
from ._files import Files
from ._migrate import MigrationDestination
from ._objects import ObjectStore
from ._probe import ProbeActor
from ._s3 import S3Store
from ._service import MIGRATIONS, MIGRATIONS_QUEUE, NAMESPACE, FileService
from ._spool import sweep
from ._supabase import SupabaseStore, body_status

#: How often each store is asked whether it answers.
PROBE_S = 15.0
#: A spool file this old belongs to no live upload.
LEFTOVER_S = 24 * 3600.0


def budget_name(provider: str) -> str:
    """A store's limiter and breaker among the providers' (under /root/resilience)."""
    return f"storage.{provider}"


class Storage:
    """``[storage]``, its credentials read when the daemon starts."""

    def __init__(self, config: Config, env: Mapping[str, str]) -> None:
        self.settings = config.storage
        self.store_timeout_s = config.store.timeout_s
        self.spool_dir = config.daemon.state_dir / "uploads"
        self.secrets: dict[str, tuple[str, str]] = {}
        for name, provider in self.settings.providers.items():
            where = f"storage.providers.{name}"
            if provider.kind == "s3":
                assert provider.access_key_env is not None
                assert provider.secret_key_env is not None
                self.secrets[name] = (
                    read_secret(env, provider.access_key_env, f"{where}.access_key_env"),
                    read_secret(env, provider.secret_key_env, f"{where}.secret_key_env"),
                )
            else:
                assert provider.service_key_env
                key = read_secret(env, provider.service_key_env, f"{where}.service_key_env")
                self.secrets[name] = (key, "")

    @property
    def on(self) -> bool:
        return self.settings.primary is not None

    def budgets(self) -> dict[str, tuple[RateLimit, BreakerSettings]]:
        return {
            budget_name(name): (RateLimit(p.rate_per_s, p.burst), p.breaker.settings())
            for name, p in self.settings.providers.items()
        }

    def stores(self, context: ActorContext) -> dict[str, ObjectStore]:
        """A client of every store for code running in ``context`` (close them)."""
        return {
            name: self._store(name, provider, context)
            for name, provider in self.settings.providers.items()
        }

    def _store(
        self, name: str, provider: StorageProviderConfig, context: ActorContext
    ) -> ObjectStore:
        settings = self.settings
        guard = ProviderGuard.at(context, RESILIENCE_PATH, budget_name(name))
        http = http_client(provider.timeout_s, provider.connect_timeout_s, provider.max_connections)
        if provider.kind == "s3":
            access, secret = self.secrets[name]
            return S3Store(
                name,
                StoreHttp(name, guard, http),
                endpoint_url=provider.endpoint_url,
                bucket=provider.bucket,
                region=provider.region,
                access_key=access,
                secret_key=secret,
                public_base_url=provider.public_base_url,
                multipart_threshold=settings.multipart_threshold_bytes,
                part_size=settings.part_size_bytes,
            )
        return SupabaseStore(
            name,
            StoreHttp(name, guard, http, status_of=body_status),
            endpoint_url=provider.endpoint_url,
            bucket=provider.bucket,
            service_key=self.secrets[name][0],
            public_base_url=provider.public_base_url,
            multipart_threshold=settings.multipart_threshold_bytes,
        )

    def spec(self, supervised: Mapping[str, Any]) -> SupervisorSpec:
        """``/root/storage``: a probe per store, and the migration courier."""
        settings = self.settings
        children: list[ActorSpec | SupervisorSpec] = []
        for name, provider in settings.providers.items():
            recovery = wake_migrations if name == settings.primary else None
            children.append(
                ActorSpec(
                    name,
                    partial(
                        ProbeActor,
                        name,
                        partial(self._store, name, provider),
                        PROBE_S,
                        recovery,
                    ),
                )
            )
        if settings.fallback is not None:
            timeout = settings.migration_timeout_s
            spec = DestinationSpec(
                NAMESPACE,
                MIGRATIONS,
                self._migrations,
                policy=RetryPolicy(tuple(settings.migration_retry_s)),
                max_in_flight=2,
                timeout_s=timeout,
                lease_s=timeout * 1.5,
                claim_batch=2,
            )
            children.append(
                courier_spec(spec, STORE_PATH, SlotPool(2), drain_s=10.0, name=MIGRATIONS)
            )
        return SupervisorSpec("storage", children=children, **supervised)

    def _migrations(self, context: ActorContext) -> MigrationDestination:
        settings = self.settings
        assert settings.primary is not None
        store = Store.at(context, STORE_PATH, timeout_s=self.store_timeout_s)
        stores = self.stores(context)
        for made in stores.values():
            context.close_at_end(made.aclose)
        return MigrationDestination(
            Files(store),
            stores,
            settings.primary,
            spool_dir=self.spool_dir,
            max_bytes=settings.max_upload_bytes,
            clock=context.clock,
            hold_s=settings.migration_timeout_s * 1.5,
        )

    def service(self, context: ActorContext, store: Store) -> FileService:
        settings = self.settings
        assert settings.primary is not None
        # What a process that died mid-upload left (a live upload's file is younger).
        sweep(self.spool_dir, LEFTOVER_S, time.time())
        stores = self.stores(context)
        for made in stores.values():
            context.close_at_end(made.aclose)
        return FileService(
            context,
            store,
            stores,
            spool_dir=self.spool_dir,
            max_bytes=settings.max_upload_bytes,
            primary=settings.primary,
            fallback=settings.fallback,
            presign_s=settings.presign_s,
            transforms=frozenset(
                name for name, p in settings.providers.items() if p.image_transforms
            ),
        )

    def admin(self) -> AdminPart:
        return storage_admin()

    def api(self) -> ApiPart:
        if not self.on:
            return lambda operations, context, store: None
        return storage_part(self.service)


def wake_migrations(context: ActorContext) -> None:
    wake_courier(context, MIGRATIONS_QUEUE)
