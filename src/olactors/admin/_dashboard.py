"""The live dashboard: a page, its login, and the server-sent event stream it reads.

A browser's ``EventSource`` cannot send an ``Authorization`` header, so the
page trades the admin token for a session cookie (HttpOnly, SameSite=Strict,
so neither scripts nor other sites can use it). The cookie holds a random
session id kept server-side (see ``_guard.Sessions``), never the token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import msgspec
import trio

from ..runtime import ActorContext, Snapshot, SupervisorSnapshot, walk
from ..store import DeadLetterItem, Store, StoreError
from ._providers import provider_states

SESSION_COOKIE = "olactors_admin"
#: Dead letters listed per queue on the page; the CLI and API page through all.
DEAD_LETTERS_SHOWN = 20

PAGE = files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")


async def dashboard_state(context: ActorContext, store: Store) -> dict[str, Any]:
    """What the page shows: every actor, the breakers and the queue depths."""
    actors = [_row(node) for node in walk(context.snapshot("/root"))]
    breakers = {p: s.get("state") for p, s in provider_states(context, "breaker").items()}
    queues: dict[str, Any] = {}
    dead: list[dict[str, Any]] = []
    store_error = None
    try:
        for name in await store.queues():
            counts = await store.counts(name)
            queues[name] = msgspec.to_builtins(counts)
            if counts.dead:
                page = await store.dead_letters(name, limit=DEAD_LETTERS_SHOWN)
                dead += [_dead_letter(item) for item in page.items]
    except StoreError as exc:
        store_error = str(exc)
    return {
        "actors": actors,
        "breakers": breakers,
        "queues": queues,
        "dead_letters": dead,
        "store_error": store_error,
    }


def _row(node: Snapshot) -> dict[str, Any]:
    error = node.last_error
    entry: dict[str, Any] = {
        "path": node.path,
        "status": node.status.value,
        "restarts": node.restarts_total,
        "last_error": f"{error.type}: {error.message}" if error else None,
    }
    if isinstance(node, SupervisorSnapshot):
        return {**entry, "mailbox": None, "rate_per_s": None}
    fill = f"{node.mailbox_depth}/{node.mailbox_capacity}"
    return {**entry, "mailbox": fill, "rate_per_s": round(node.rate_per_s, 1)}


def _dead_letter(item: DeadLetterItem) -> dict[str, Any]:
    return {"queue": item.queue, "id": item.id, "attempts": item.attempts, "error": item.last_error}


async def event_stream(
    context: ActorContext, store: Store, interval_s: float, closing: trio.Event
) -> AsyncIterator[bytes]:
    """``data: <state JSON>`` every ``interval_s`` until the client goes away or
    ``closing`` is set (the listener shuts down; the page reconnects to the next one)."""
    while not closing.is_set():
        state = await dashboard_state(context, store)
        yield b"event: state\ndata: " + msgspec.json.encode(state) + b"\n\n"
        with trio.move_on_after(interval_s):
            await closing.wait()
