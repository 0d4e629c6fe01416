"""Orderly shutdown: reverse start order, drain within the timeout, then cancel."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from olactors.runtime import Actor, ActorSpec, ActorSystem, DeadLetterSink, SupervisorSpec

from .support import Journal, Sleep, Work, recorder, running, tree


async def test_shutdown_stops_children_in_reverse_start_order(journal: Journal) -> None:
    inner = SupervisorSpec("inner", children=[recorder("x", journal), recorder("y", journal)])
    spec = tree(recorder("a", journal), inner, recorder("b", journal))
    async with running(spec):
        pass
    assert journal.order("start") == ["a", "x", "y", "b"]
    assert journal.order("stop") == ["b", "y", "x", "a"]


async def test_shutdown_drains_the_mailbox_before_stopping(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.ref("/root/a")
        ref.tell_nowait(Sleep(0.05))
        for n in range(10):
            ref.tell_nowait(Work(n))
    assert journal.count("handled") == 10
    assert journal.events[-1] == ("stop", "a", None)


async def test_a_child_still_draining_at_its_timeout_is_cancelled(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    spec = tree(recorder("slow", journal, shutdown_timeout_s=2.0))
    async with running(spec) as system:
        system.ref("/root/slow").tell_nowait(Sleep(60))
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()
    assert trio.current_time() - began == 2.0
    assert journal.count("slept") == 0
    # Cancelled, not stopped in order: stopping() did not run.
    assert journal.count("stop") == 0


async def test_no_task_of_an_actor_outlives_the_system(journal: Journal) -> None:
    class Background(Actor[Any]):
        async def started(self) -> None:
            self.context.nursery.start_soon(self.tick)

        async def tick(self) -> None:
            try:
                await trio.sleep_forever()
            finally:
                journal.add("background-ended", "bg")

    async with running(tree(ActorSpec("bg", Background))):
        await trio.testing.wait_all_tasks_blocked()
        assert journal.count("background-ended") == 0
    assert journal.count("background-ended") == 1


async def test_force_stop_cancels_at_once_and_dead_letters_what_was_queued(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    letters = DeadLetterSink()
    system = ActorSystem(tree(recorder("a", journal)), dead_letters=letters)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        ref = system.ref("/root/a")
        ref.tell_nowait(Sleep(60))
        ref.tell_nowait(Work(1))
        await trio.testing.wait_all_tasks_blocked()
        system.shutdown()
        await trio.sleep(1)
        system.force_stop()
    assert system.forced
    assert trio.current_time() < 60
    assert [dl.message for dl in letters.recent] == [Sleep(60), Work(1)]


async def test_a_background_task_that_crashes_crashes_its_actor(journal: Journal) -> None:
    class Fragile(Actor[Any]):
        async def started(self) -> None:
            journal.add("start", "fragile")
            if journal.count("start", "fragile") == 1:
                self.context.nursery.start_soon(self.fail)

        async def fail(self) -> None:
            raise OSError("lost the connection")

    async with running(tree(ActorSpec("fragile", Fragile))) as system:
        await journal.wait_for(lambda: journal.count("start") == 2)
        error = system.snapshot("/root/fragile").last_error
    assert error is not None
    assert (error.type, error.message) == ("OSError", "lost the connection")
