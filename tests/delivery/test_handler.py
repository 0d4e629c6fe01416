"""A Python handler as a route's destination: whatever it does, the daemon goes on."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import trio

from olactors.delivery import AttemptFailed, HandlerDestination
from olactors.store import QueueItem

from .support import ITEM

released = threading.Event()


def exits(item: QueueItem) -> None:
    raise SystemExit(3)


def interrupts(item: QueueItem) -> None:
    raise KeyboardInterrupt


def blocks(item: QueueItem) -> None:
    released.wait(30)


@pytest.fixture
def release_blocked() -> Iterator[None]:
    released.clear()
    yield
    released.set()


@pytest.mark.parametrize("handler", ["exits", "interrupts"])
async def test_a_handler_that_raises_a_base_exception_fails_the_attempt(handler: str) -> None:
    with pytest.raises(AttemptFailed, match="handler"):
        await HandlerDestination(f"{__name__}:{handler}").deliver(ITEM)


async def test_handlers_blocked_for_good_leave_the_default_threads_to_the_rest(
    release_blocked: None,
) -> None:
    destination = HandlerDestination(f"{__name__}:blocks")

    async def abandoned() -> None:
        with trio.move_on_after(0.01):
            await destination.deliver(ITEM)

    async with trio.open_nursery() as nursery:
        for _ in range(2 * int(trio.to_thread.current_default_thread_limiter().total_tokens)):
            nursery.start_soon(abandoned)
    # The store's calls use trio's default threads: still there for them.
    with trio.fail_after(10):
        assert await trio.to_thread.run_sync(lambda: 42) == 42
