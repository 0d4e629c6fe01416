"""A webhook route with ``sync = "<name>"``: the record an event names is refreshed in
that sync now (a Stripe ``customer.updated`` refreshes that customer), rather than at the
next scheduled run. Delivered once the refresh is applied; a failed one is retried by the
route like any delivery."""

from __future__ import annotations

import json

from ..delivery import AttemptFailed, Delivered
from ..runtime import ActorContext, ActorError, ActorNotFound
from ..store import QueueItem
from ._actor import Refresh, SyncFailed
from ._service import SYNC_PATH
from ._source import at_path
from ._tables import RunView


class SyncDestination:
    def __init__(self, context: ActorContext, sync: str, id_path: str) -> None:
        self.context = context
        self.sync = sync
        self.id_path = id_path

    async def aclose(self) -> None:
        return None

    async def deliver(self, item: QueueItem) -> Delivered:
        try:
            event = json.loads(item.payload)
        except ValueError:
            raise AttemptFailed("the event is not JSON: no record to refresh") from None
        rid = at_path(event, self.id_path)
        if not isinstance(rid, str | int) or isinstance(rid, bool) or rid == "":
            raise AttemptFailed(f"the event names no record at {self.id_path}")
        try:
            ref = self.context.actor_ref(f"{SYNC_PATH}/{self.sync}")
            # The route's timeout cuts this short if the refresh takes longer.
            run: RunView = await ref.ask(Refresh([str(rid)]), timeout=float("inf"))
        except ActorNotFound:
            raise AttemptFailed(f"sync {self.sync} is not running") from None
        except (SyncFailed, ActorError) as exc:
            raise AttemptFailed(str(exc)) from None
        summary = f"run {run.id}: {run.created} created, {run.updated} updated"
        return Delivered(response=summary.encode())
