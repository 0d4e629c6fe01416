"""One run of a sync: fetch page by page into staging, checkpointing as it goes, then
apply everything in one transaction; or, for a webhook's targeted refresh, fetch the
records it names and apply them at once.

A fetch holds the sync for its process (a lease in the sync's state, renewed at every
page), so replicas on one database never run it at once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from .. import metrics
from ..clients import ProviderError
from ..runtime import Clock
from ._access import SyncAccess
from ._source import Source, SourceError
from ._tables import Kind, LostLease, Policy, RunView

log = logging.getLogger("olactors.sync")


def new_run_id() -> str:
    return "run_" + secrets.token_hex(10)


@dataclass(frozen=True)
class Plan:
    """How a run fetches: from where (a checkpoint's cursor, or the start), and since when."""

    kind: Kind
    cursor: str | None
    since: float | None
    #: Every page is already staged (the process died before applying).
    fetched: bool
    #: When the fetch began, its first attempt's time if it is resumed.
    started: float


async def begin(
    access: SyncAccess,
    source: Source,
    policy: Policy,
    run: str,
    *,
    full: bool,
    now: float,
    owner: str,
) -> Plan:
    """Record the run and decide how it fetches: a fetch a previous run left halfway goes
    on from its last committed page, unless a full run is asked for (which starts over)."""
    tables = await access.tables()
    state = await access.call(tables.state)
    if state.fetching and state.fetch_kind in ("full", "incremental") and not full:
        await access.call(tables.begin, run, state.fetch_kind, now, resume=True, owner=owner)
        since = state.since if state.fetch_kind == "incremental" else None
        return Plan(
            state.fetch_kind,
            state.fetch_cursor or None,
            since,
            state.fetch_cursor == "",
            state.fetch_started if state.fetch_started is not None else now,
        )
    incremental = source.incremental and state.since is not None and not full
    kind: Kind = "incremental" if incremental else "full"
    keep = kind == "full" and policy.allow_deletions
    await access.call(tables.begin, run, kind, now, resume=False, owner=owner, keep_unchanged=keep)
    return Plan(kind, None, state.since if incremental else None, False, now)


async def execute(
    access: SyncAccess,
    source: Source,
    policy: Policy,
    run: str,
    plan: Plan,
    clock: Clock,
    owner: str,
) -> RunView:
    """Fetch what is left of ``plan`` and apply it. A failure marks the run failed and
    keeps the checkpoint for the next run to go on from, unless the failure would come
    again from there (then the next run starts over); nothing is applied."""
    tables = await access.tables()
    try:
        cursor = plan.cursor
        done = plan.fetched
        while not done:
            page = await source.page(cursor, plan.since, plan.started)
            await access.call(tables.stage, page.items, page.next_cursor, owner=owner, now=clock())
            cursor = page.next_cursor
            done = cursor is None
        applied = await access.call(
            tables.apply, run, policy, complete_full=plan.kind == "full", now=clock(), owner=owner
        )
    except Exception as exc:
        await _failed(access, run, exc, clock(), plan.kind, owner=owner)
        raise
    return counted(applied)


async def refresh(
    access: SyncAccess,
    source: Source,
    policy: Policy,
    run: str,
    ids: Sequence[str],
    clock: Clock,
) -> RunView:
    """A targeted run: the records ``ids`` name, fetched and applied now."""
    tables = await access.tables()
    try:
        items = await source.fetch(ids, clock())
        applied = await access.call(tables.apply_items, run, items, policy, clock())
    except Exception as exc:
        await _failed(access, run, exc, clock(), "targeted", targeted=len(ids))
        raise
    return counted(applied)


def counted(view: RunView) -> RunView:
    """The run's outcome in the metrics."""
    metrics.SYNC_RUNS.labels(view.sync, view.kind, view.status).inc()
    for outcome in ("created", "updated", "deleted", "conflicts"):
        metrics.SYNC_RECORDS.labels(view.sync, outcome).inc(getattr(view, outcome))
    if view.duration_s is not None:
        metrics.SYNC_RUN_SECONDS.labels(view.sync).observe(view.duration_s)
    return view


def lasting(error: Exception) -> bool:
    """Whether the same fetch would fail the same way from the same checkpoint: the source
    refused the request (a cursor it no longer takes) or a record (one the database cannot
    keep). A provider down, a breaker open, a database away: it may pass."""
    if isinstance(error, ProviderError):
        return not error.transient
    return isinstance(error, SourceError | psycopg.DataError | ValueError)


async def _failed(
    access: SyncAccess,
    run: str,
    error: Exception,
    now: float,
    kind: Kind,
    *,
    owner: str | None = None,
    targeted: int = 0,
) -> None:
    tables = await access.tables()
    what = f"{type(error).__name__}: {error}"
    metrics.SYNC_RUNS.labels(access.sync, kind, "failed").inc()
    log.warning("sync %s: run %s failed: %s", access.sync, run, what)
    try:
        if targeted:
            await access.call(tables.failed_targeted, run, targeted, what, now)
        elif owner is not None:  # (lost to another process: its checkpoint stays)
            keep = isinstance(error, LostLease) or not lasting(error)
            await access.call(tables.fail, run, what, now, owner, keep_checkpoint=keep)
    except Exception as also:  # the database is what failed: the run is marked at restart
        log.warning("sync %s: run %s could not be marked failed: %s", access.sync, run, also)
