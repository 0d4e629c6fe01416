"""Orderly shutdown: reverse start order, drain within the timeout, then cancel."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from olactors.runtime import (
    Actor,
    ActorSpec,
    ActorSystem,
    DroppedMessages,
    Status,
    SupervisorSpec,
)

from .support import Boom, Journal, Recorder, Sleep, Work, recorder, running, tree


async def test_shutdown_stops_children_in_reverse_start_order(journal: Journal) -> None:
    inner = SupervisorSpec("inner", children=[recorder("x", journal), recorder("y", journal)])
    spec = tree(recorder("a", journal), inner, recorder("b", journal))
    async with running(spec):
        pass
    assert journal.order("start") == ["a", "x", "y", "b"]
    assert journal.order("stop") == ["b", "y", "x", "a"]


async def test_shutdown_drains_the_mailbox_before_stopping(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
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
        system.actor_ref("/root/slow").tell_nowait(Sleep(60))
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


async def test_force_stop_cancels_at_once_and_drops_what_was_queued(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    letters = DroppedMessages()
    system = ActorSystem(tree(recorder("a", journal)), dropped=letters)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        ref = system.actor_ref("/root/a")
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


async def test_a_stop_request_while_a_message_is_handed_over_is_orderly(
    journal: Journal,
) -> None:
    instances: list[Actor[Any]] = []

    class Kept(Recorder):
        async def started(self) -> None:
            instances.append(self)
            await super().started()

    spec = tree(ActorSpec("k", lambda: Kept("k", journal), mailbox_capacity=1))
    async with running(spec) as system:
        await trio.testing.wait_all_tasks_blocked()
        ref = system.actor_ref("/root/k")
        ref.tell_nowait(Work(1))  # handed straight to the idle actor, which has not run yet
        ref.tell_nowait(Work(2))  # fills the one slot
        instances[0].context.stop()  # must not fail for want of room to wake it
        await journal.wait_for(lambda: journal.count("start") == 2)
    assert [e[2] for e in journal.of("handled")] == [1, 2]


async def test_an_error_raised_while_an_actor_is_cancelled_is_its_own_crash(
    journal: Journal,
) -> None:
    class Messy(Actor[Any]):
        async def started(self) -> None:
            journal.add("start", "messy")
            self.context.nursery.start_soon(self.hold)

        async def hold(self) -> None:
            try:
                await trio.sleep_forever()
            finally:
                raise RuntimeError("cleanup failed")

        async def receive(self, message: Any) -> None:
            await trio.sleep(60)

    spec = tree(recorder("sibling", journal), ActorSpec("messy", Messy, shutdown_timeout_s=0))
    async with running(spec) as system:
        system.actor_ref("/root/messy").tell_nowait(Work(1))
        await trio.testing.wait_all_tasks_blocked()
        await system.restart("/root/messy")  # stop overruns at once: cancelled
        await journal.wait_for(lambda: journal.count("start", "messy") == 2)
        assert system.tree().status is Status.RUNNING
        assert journal.count("start", "sibling") == 1


async def test_stopping_runs_after_a_background_task_crashes_the_actor(journal: Journal) -> None:
    class Fragile(Recorder):
        async def started(self) -> None:
            await super().started()
            if journal.count("start") == 1:
                self.context.nursery.start_soon(self.fail)

        async def fail(self) -> None:
            raise OSError("connection reset")

    async with running(tree(ActorSpec("f", lambda: Fragile("f", journal)))):
        await journal.wait_for(lambda: journal.count("start") == 2)
    assert journal.order("stop")[0] == "f"
    assert [e[0] for e in journal.events[:3]] == ["start", "stop", "start"]


async def test_a_stop_requested_while_the_tree_starts_takes_effect_once_it_is_up(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    class SlowStart(Recorder):
        async def started(self) -> None:
            await trio.sleep(5)
            await super().started()

    system = ActorSystem(tree(ActorSpec("s", lambda: SlowStart("s", journal))))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep(1)
        system.shutdown()  # a SIGTERM during start-up
    assert journal.order("start") == ["s"]
    assert journal.order("stop") == ["s"]


class Holding(Recorder):
    """Holds something built for it, closed when its incarnation ends."""

    async def started(self) -> None:
        await super().started()
        n = self.journal.count("start", self.name)

        async def close() -> None:
            await trio.sleep(0)  # a close that awaits, as an HTTP client's does
            self.journal.add("closed", self.name, n)

        self.context.close_at_end(close)


async def test_what_an_actor_closes_at_end_is_closed_after_it_stops(journal: Journal) -> None:
    async with running(tree(ActorSpec("h", lambda: Holding("h", journal)))):
        await trio.testing.wait_all_tasks_blocked()
        assert journal.count("closed") == 0
    assert journal.events[-2:] == [("stop", "h", None), ("closed", "h", 1)]


async def test_what_a_crashed_incarnation_held_is_closed_before_the_next_starts(
    journal: Journal,
) -> None:
    async with running(tree(ActorSpec("h", lambda: Holding("h", journal)))) as system:
        system.actor_ref("/root/h").tell_nowait(Boom("poison"))
        await journal.wait_for(lambda: journal.count("start") == 2)
    lives = [e for e in journal.events if e[0] in ("start", "closed")]
    assert lives[:3] == [("start", "h", None), ("closed", "h", 1), ("start", "h", None)]
