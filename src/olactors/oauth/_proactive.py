"""The proactive refresher: connections nobody asks for are kept alive.

Every ``scan_s`` it reads every connection and refreshes those that would be
due before the next scan (and Instagram's 60-day tokens from half their
life), through the same :class:`Refresher` as the API: the same locks, so a
scan on each replica and the app's own requests still refresh a connection
once. A refusal marks the connection ``needs_reauth`` as it would on a
request; a provider that does not answer is tried again at the next scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import trio

from ..runtime import Actor, ActorContext
from ..store import STORE_PATH, LockBusy, Store, StoreError
from ._connections import PREFIX, all_keys
from ._providers import OAuthProvider
from ._refresh import NeedsReauth, NotConnected, Refresher
from ._tokens import TokenError
from ._vault import VaultError

log = logging.getLogger("olactors.oauth")


class ProactiveRefresher(Actor[Any]):
    def __init__(
        self,
        providers: Mapping[str, OAuthProvider],
        refresher: Callable[[ActorContext, Store], Refresher],
        *,
        scan_s: float,
        store_timeout_s: float,
    ) -> None:
        self.providers = providers
        self.make_refresher = refresher
        self.scan_s = scan_s
        self.store_timeout_s = store_timeout_s
        self.scans = self.refreshed = self.failed = 0
        self.last_scan_at: float | None = None

    async def started(self) -> None:
        store = Store.at(self.context, STORE_PATH, timeout_s=self.store_timeout_s)
        self._store = store
        self._refresher = self.make_refresher(self.context, store)
        self.context.nursery.start_soon(self._every)

    async def receive(self, message: Any) -> None:
        raise TypeError("the proactive refresher takes no messages")

    async def _every(self) -> None:
        while True:
            await trio.sleep(self.scan_s)
            try:
                await self.scan()
            except StoreError as exc:
                log.warning("oauth: proactive refresh skipped a scan: %s", exc)

    async def scan(self) -> None:
        async for key in all_keys(self._store):
            await self._one(key)
        self.scans += 1
        self.last_scan_at = self.context.clock()

    async def _one(self, key: str) -> None:
        name, _, user = key.removeprefix(PREFIX).partition(":")
        provider = self.providers.get(name)
        if provider is None:
            return  # a provider no longer configured: its connections wait
        before = self._refresher.refreshes
        try:
            await self._refresher.fresh(provider, user, ahead_s=self.scan_s)
        except (NotConnected, NeedsReauth):
            return
        except (TokenError, LockBusy, VaultError) as exc:
            self.failed += 1
            log.warning("oauth: %s/%s not refreshed ahead: %s", name, user, type(exc).__name__)
            return
        self.refreshed += self._refresher.refreshes - before

    def inspect(self) -> dict[str, Any]:
        return {
            "scan_s": self.scan_s,
            "scans": self.scans,
            "refreshed": self.refreshed,
            "failed": self.failed,
            "last_scan_at": self.last_scan_at,
        }
