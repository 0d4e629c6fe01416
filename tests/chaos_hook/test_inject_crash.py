"""``inject_crash``: a crash on purpose, handled by the supervisor as any crash."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from olactors.runtime import (
    Actor,
    ActorNotFound,
    ActorSpec,
    ActorSystem,
    Backoff,
    DroppedMessages,
    MessageDropped,
    Restart,
    Status,
    Strategy,
    SupervisorSpec,
)

from ..runtime.support import Exit, Journal, Recorder, Sleep, Work, recorder, running, tree


async def wait_until(system: ActorSystem, path: str, status: Status) -> None:
    with trio.fail_after(5):
        while system.snapshot(path).status != status:
            await trio.sleep(0.001)


async def test_an_injected_crash_restarts_the_actor_through_its_supervisor(
    journal: Journal,
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        assert system.inject_crash("/root/a", "under test")
        await journal.wait_for(lambda: journal.count("start", "a") == 2)
        await wait_until(system, "/root/a", Status.RUNNING)
        actor = system.actor_snapshot("/root/a")
        root = system.tree()
    assert (actor.restarts_total, actor.restarts_in_window) == (1, 1)
    assert actor.last_error is not None
    assert actor.last_error.type == "InjectedCrash"
    assert actor.last_error.message == "crash injected into /root/a: under test"
    assert root.intensity_used == 1
    assert journal.count("stop", "a") == 2  # stopping() ran after the crash, as after any


async def test_injected_crashes_past_the_intensity_make_the_supervisor_give_up(
    journal: Journal,
) -> None:
    mid = SupervisorSpec(
        "mid",
        children=[recorder("a", journal)],
        max_restarts=1,
        within_s=60.0,
        backoff=Backoff(initial_s=0.0, max_s=0.0, max_tries=None),
    )
    async with running(tree(mid)) as system:
        system.inject_crash("/root/mid/a")
        await journal.wait_for(lambda: journal.count("start", "a") == 2)
        await wait_until(system, "/root/mid/a", Status.RUNNING)
        system.inject_crash("/root/mid/a")
        # Past 1 restart in 60 s: mid gives up, and the root starts it again.
        await journal.wait_for(lambda: journal.count("start", "a") == 3)
        mid_snapshot = system.snapshot("/root/mid")
    assert mid_snapshot.restarts_total == 1
    assert mid_snapshot.last_error is not None
    assert mid_snapshot.last_error.type == "RestartIntensityExceeded"


async def test_the_supervisors_strategy_applies_to_an_injected_crash(journal: Journal) -> None:
    group = SupervisorSpec(
        "group",
        children=[recorder("a", journal), recorder("b", journal)],
        strategy=Strategy.ONE_FOR_ALL,
        max_restarts=10,
        backoff=Backoff(initial_s=0.0, max_s=0.0, max_tries=None),
    )
    async with running(tree(group)) as system:
        system.inject_crash("/root/group/a")
        await journal.wait_for(lambda: journal.count("start", "b") == 2)
        sibling = system.actor_snapshot("/root/group/b")
    assert sibling.restarts_total == 1
    assert sibling.last_error is None  # restarted with its group, not crashed


async def test_a_crash_injected_mid_message_hands_that_message_to_the_next_incarnation_first(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        ref.tell_nowait(Sleep(1000.0))
        ref.tell_nowait(Work(1))
        await journal.wait_for(lambda: journal.count("sleeping") == 1)
        system.inject_crash("/root/a")
        await journal.wait_for(lambda: journal.count("sleeping") == 2)
        handled = journal.count("handled")
    assert journal.count("start", "a") == 2
    assert handled == 0  # the message in hand came back before the one queued behind it


async def test_a_message_in_hand_at_each_injected_crash_is_dropped_as_poison(
    journal: Journal,
) -> None:
    letters = DroppedMessages()
    spec = tree(recorder("a", journal, max_message_crashes=2))
    async with running(spec, dropped=letters) as system:
        ref = system.actor_ref("/root/a")
        async with trio.open_nursery() as nursery:

            async def ask_and_record() -> None:
                with pytest.raises(MessageDropped) as caught:
                    await ref.ask(Sleep(1000.0))
                journal.add("dropped", "asker", caught.value)

            nursery.start_soon(ask_and_record)
            await journal.wait_for(lambda: journal.count("sleeping") == 1)
            system.inject_crash("/root/a")
            await journal.wait_for(lambda: journal.count("sleeping") == 2)
            system.inject_crash("/root/a")
        assert await ref.ask(Work(7)) == 7  # and the actor goes on with the next message
    [(_, _, dropped)] = journal.of("dropped")
    assert dropped.crashes == 2
    assert type(dropped.error).__name__ == "InjectedCrash"
    [letter] = letters.recent
    assert (letter.reason, letter.crashes, letter.error_type) == ("poison", 2, "InjectedCrash")


class Swallower(Recorder):
    """Catches every exception its handler sees, as careless code does."""

    async def receive(self, message: Any) -> Any:
        try:
            return await super().receive(message)
        except Exception:
            self.journal.add("swallowed", self.name)
            return None


async def test_the_actors_own_code_cannot_catch_an_injected_crash(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    spec = tree(ActorSpec("s", lambda: Swallower("s", journal)))
    async with running(spec) as system:
        system.actor_ref("/root/s").tell_nowait(Sleep(1000.0))
        await journal.wait_for(lambda: journal.count("sleeping") == 1)
        system.inject_crash("/root/s")
        await journal.wait_for(lambda: journal.count("start", "s") == 2)
    assert journal.count("swallowed") == 0


async def test_an_actor_that_is_not_running_is_not_crashed(journal: Journal) -> None:
    slow = Backoff(initial_s=100.0, max_s=100.0, jitter=0.0, max_tries=None)
    async with running(tree(recorder("a", journal), backoff=slow)) as system:
        assert system.inject_crash("/root/a")
        await wait_until(system, "/root/a", Status.RESTARTING)
        assert not system.inject_crash("/root/a")
        restarts = system.actor_snapshot("/root/a").restarts_total
    assert restarts == 1


@pytest.mark.parametrize("path", ["/root/nobody", "/root", "/root/mid"])
async def test_an_unknown_path_or_a_supervisors_raises_actor_not_found(
    journal: Journal, path: str
) -> None:
    mid = SupervisorSpec("mid", children=[recorder("a", journal)])
    async with running(tree(mid)) as system:
        with pytest.raises(ActorNotFound):
            system.inject_crash(path)
        assert system.actor_snapshot("/root/mid/a").restarts_total == 0


class CrashOther(msgspec.Struct, frozen=True):
    path: str


class Saboteur(Actor[CrashOther]):
    reply_errors = (ActorNotFound,)

    async def receive(self, message: CrashOther) -> bool:
        return self.context.inject_crash(message.path, "from a sibling")


async def test_an_actor_injects_a_crash_through_its_context(journal: Journal) -> None:
    spec = tree(recorder("a", journal), ActorSpec("saboteur", Saboteur))
    async with running(spec) as system:
        assert await system.actor_ref("/root/saboteur").ask(CrashOther("/root/a"))
        await journal.wait_for(lambda: journal.count("start", "a") == 2)
        with pytest.raises(ActorNotFound):
            await system.actor_ref("/root/saboteur").ask(CrashOther("/root/nobody"))
        error = system.actor_snapshot("/root/a").last_error
    assert error is not None
    assert error.message == "crash injected into /root/a: from a sibling"


class InjectsAtItsEnd(Recorder):
    """Asks for its own crash as the last thing it does when stopping normally."""

    async def stopping(self) -> None:
        await super().stopping()
        self.journal.add("injected", self.name, self.context.inject_crash(self.context.path))


async def test_a_crash_injected_as_an_incarnation_ends_normally_leaves_it_a_normal_end(
    journal: Journal,
) -> None:
    spec = tree(ActorSpec("t", lambda: InjectsAtItsEnd("t", journal), restart=Restart.TRANSIENT))
    async with running(spec) as system:
        await system.actor_ref("/root/t").tell(Exit())
        await wait_until(system, "/root/t", Status.STOPPED)
        ended = system.actor_snapshot("/root/t")
    assert journal.of("injected") == [("injected", "t", True)]
    assert (ended.restarts_total, ended.last_error) == (0, None)


class SlowStarter(Recorder):
    def __init__(self, name: str, journal: Journal, release: trio.Event) -> None:
        super().__init__(name, journal)
        self.release = release

    async def started(self) -> None:
        await super().started()
        await self.release.wait()


async def test_an_actor_still_starting_is_not_crashed(journal: Journal) -> None:
    release = trio.Event()
    async with running(tree()) as system:
        async with trio.open_nursery() as nursery:
            spec = ActorSpec("late", lambda: SlowStarter("late", journal, release))
            nursery.start_soon(system.root.start_child, spec)
            await journal.wait_for(lambda: journal.count("start", "late") == 1)
            assert system.actor_snapshot("/root/late").status == Status.STARTING
            assert not system.inject_crash("/root/late")
            release.set()
        await wait_until(system, "/root/late", Status.RUNNING)
        assert system.actor_snapshot("/root/late").restarts_total == 0
