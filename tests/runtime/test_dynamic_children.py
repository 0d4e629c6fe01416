"""Children added, removed and restarted at run time."""

from __future__ import annotations

import pytest
import trio.testing

from olactors.runtime import (
    ActorNotFound,
    ActorSpec,
    ActorStopped,
    ActorSystem,
    Backoff,
    ChildStartFailed,
    DuplicateChild,
    Restart,
    Status,
    Strategy,
    SupervisorSpec,
)

from .support import Boom, Exit, Journal, Recorder, Sleep, Work, recorder, running, tree


async def test_start_child_runs_a_new_child_at_its_path(journal: Journal) -> None:
    spec = tree(SupervisorSpec("stripe"))
    async with running(spec) as system:
        ref = await system.supervisor("/root/stripe").start_child(recorder("worker-1", journal))
        assert ref.path == "/root/stripe/worker-1"
        assert await system.actor_ref("/root/stripe/worker-1").ask(Work(3)) == 3
        assert system.snapshot("/root/stripe/worker-1").status is Status.RUNNING


async def test_start_child_refuses_a_name_in_use(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        with pytest.raises(DuplicateChild):
            await system.root.start_child(recorder("a", journal))


async def test_a_child_that_cannot_start_is_not_added(journal: Journal) -> None:
    class Broken(Recorder):
        async def started(self) -> None:
            raise RuntimeError("bad credentials")

    async with running(tree()) as system:
        with pytest.raises(ChildStartFailed):
            await system.root.start_child(ActorSpec("b", lambda: Broken("b", journal)))
        assert system.root.children() == []
        with pytest.raises(ActorNotFound):
            system.actor_ref("/root/b")


async def test_remove_child_drains_it_and_forgets_its_path(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        for n in range(5):
            ref.tell_nowait(Work(n))
        await system.root.remove_child("a")
        assert journal.count("handled") == 5
        with pytest.raises(ActorNotFound):
            system.actor_ref("/root/a")
        with pytest.raises(ActorStopped):
            await ref.tell(Work(6))


async def test_a_dynamic_child_is_restarted_like_a_static_one(journal: Journal) -> None:
    async with running(tree()) as system:
        await system.root.start_child(recorder("d", journal, max_message_crashes=1))
        await system.actor_ref("/root/d").tell(Boom())
        await journal.wait_for(lambda: journal.count("start", "d") == 2)


async def test_restart_by_hand_does_not_count_against_the_intensity(journal: Journal) -> None:
    spec = SupervisorSpec("root", children=[recorder("a", journal)], max_restarts=0)
    async with running(spec) as system:
        for _ in range(3):
            await system.restart("/root/a")
        await trio.testing.wait_all_tasks_blocked()
        snapshot = system.snapshot("/root/a")
        assert journal.count("start", "a") == 4
        assert snapshot.restarts_total == 3
        assert system.tree().intensity_used == 0


async def test_dynamic_children_survive_their_supervisors_restart(journal: Journal) -> None:
    # mid gives up at the first crash of w, so root restarts the whole subtree.
    spec = tree(
        SupervisorSpec(
            "mid", children=[recorder("w", journal, max_message_crashes=1)], max_restarts=0
        )
    )
    async with running(spec) as system:
        mid = system.supervisor("/root/mid")
        await mid.start_child(recorder("extra", journal))
        await system.actor_ref("/root/mid/w").tell(Boom())
        await journal.wait_for(lambda: journal.count("start", "extra") == 2)
        assert system.snapshot("/root/mid").restarts_total == 1
        assert mid.children() == ["w", "extra"]
        assert await system.actor_ref("/root/mid/extra").ask(Work(1)) == 1


async def test_a_stopped_transient_child_can_be_restarted_by_hand(journal: Journal) -> None:
    async with running(tree(recorder("t", journal, restart=Restart.TRANSIENT))) as system:
        ref = system.actor_ref("/root/t")
        await ref.tell(Exit())
        await journal.wait_for(lambda: journal.count("stop") == 1)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(ActorStopped):
            await ref.tell(Work(0))
        await system.restart("/root/t")
        assert await ref.ask(Work(2)) == 2


async def test_a_failed_restart_by_hand_is_reported_and_leaves_the_child_stopped(
    journal: Journal,
) -> None:
    refuse = False

    class Picky(Recorder):
        async def started(self) -> None:
            if refuse:
                raise RuntimeError("bad credentials")
            await super().started()

    spec = tree(
        SupervisorSpec(
            "mid", children=[ActorSpec("p", lambda: Picky("p", journal))], max_restarts=0
        )
    )
    async with running(spec) as system:
        refuse = True
        with pytest.raises(ChildStartFailed, match="bad credentials"):
            await system.restart("/root/mid/p")
        await trio.testing.wait_all_tasks_blocked()
        assert system.snapshot("/root/mid/p").status is Status.STOPPED
        assert system.snapshot("/root/mid").restarts_total == 0


async def test_a_command_cut_short_by_a_forced_stop_is_answered(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    system = ActorSystem(tree(recorder("a", journal, shutdown_timeout_s=100)))
    outcome: list[BaseException] = []
    async with trio.open_nursery() as operators, trio.open_nursery() as daemon:
        await daemon.start(system.run)
        system.actor_ref("/root/a").tell_nowait(Sleep(60))

        async def operator() -> None:
            try:
                await system.root.remove_child("a")
            except ActorStopped as exc:
                outcome.append(exc)

        operators.start_soon(operator)
        await trio.sleep(1)  # the root is now waiting for a to drain
        system.force_stop()
    assert len(outcome) == 1


async def test_a_child_added_during_a_rest_for_one_backoff_starts_after_its_elders(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    spec = tree(
        recorder("a", journal, max_message_crashes=1),
        recorder("b", journal),
        strategy=Strategy.REST_FOR_ONE,
        backoff=Backoff(initial_s=1.0, max_s=1.0, jitter=0.0),
    )
    async with running(spec) as system:
        await system.actor_ref("/root/a").tell(Boom())
        await journal.wait_for(lambda: journal.count("stop", "b") == 1)
        # "a" and "b" wait out their backoff; the newcomer queues behind them.
        handle = await system.root.start_child(recorder("c", journal))
        assert await handle.ask(Work(1)) == 1
    assert journal.order("start") == ["a", "b", "a", "b", "c"]


async def test_a_child_queued_behind_a_backoff_is_refused_if_the_supervisor_stops(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    spec = tree(
        recorder("a", journal, max_message_crashes=1),
        strategy=Strategy.ONE_FOR_ALL,
        backoff=Backoff(initial_s=10.0, max_s=10.0, jitter=0.0),
    )
    async with running(spec) as system:
        await system.actor_ref("/root/a").tell(Boom())
        # Until the supervisor has handled the crash and scheduled the restart.
        while system.snapshot("/root/a").status is not Status.RESTARTING:
            await trio.sleep(0.001)
        async with trio.open_nursery() as nursery:

            async def add() -> None:
                with pytest.raises(ActorStopped):
                    await system.root.start_child(recorder("late", journal))

            nursery.start_soon(add)
            await trio.testing.wait_all_tasks_blocked()
            system.shutdown()
    assert journal.count("start", "late") == 0


async def test_under_one_for_one_a_new_child_does_not_wait_for_a_siblings_backoff(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    spec = tree(
        recorder("a", journal, max_message_crashes=1),
        backoff=Backoff(initial_s=10.0, max_s=10.0, jitter=0.0),
    )
    async with running(spec) as system:
        await system.actor_ref("/root/a").tell(Boom())
        while system.snapshot("/root/a").status is not Status.RESTARTING:
            await trio.sleep(0.001)
        began = trio.current_time()
        await system.root.start_child(recorder("b", journal))
        assert trio.current_time() - began < 10.0  # virtual time: it did not wait the 10 s
