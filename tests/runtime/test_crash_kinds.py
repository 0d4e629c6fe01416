"""A crash is the actor's whatever it raised; stopping the process is an explicit halt."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from olactors.runtime import (
    Actor,
    ActorSpec,
    ActorSystem,
    Restart,
    SystemHalted,
)

from .support import Boom, Journal, Recorder, Work, recorder, running, tree


class Quit(msgspec.Struct, frozen=True):
    code: int = 3


class Exiter(Recorder):
    """Calls ``sys.exit`` from its handler, or from a background task."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Quit):
            self.journal.add("exit", self.name)
            sys.exit(message.code)
        if isinstance(message, Boom):
            self.context.nursery.start_soon(self._exit_later)
            return None
        return await super().receive(message)

    async def _exit_later(self) -> None:
        sys.exit(4)


async def test_system_exit_in_a_handler_is_a_crash_its_supervisor_restarts(
    journal: Journal,
) -> None:
    spec = tree(
        ActorSpec("x", lambda: Exiter("x", journal), max_message_crashes=1),
        recorder("sibling", journal),
    )
    async with running(spec) as system:
        await system.actor_ref("/root/x").tell(Quit())
        await journal.wait_for(lambda: journal.count("start", "x") == 2)
        assert await system.actor_ref("/root/x").ask(Work(1)) == 1
        snapshot = system.snapshot("/root/x")
        assert snapshot.restarts_total == 1
        assert snapshot.last_error is not None
        assert snapshot.last_error.type == "SystemExit"
    # The sibling was left alone until the orderly shutdown stopped it.
    assert journal.order("start") == ["x", "sibling", "x"]
    assert journal.count("stop", "sibling") == 1


async def test_system_exit_in_a_background_task_crashes_only_its_actor(journal: Journal) -> None:
    spec = tree(ActorSpec("x", lambda: Exiter("x", journal)), recorder("sibling", journal))
    async with running(spec) as system:
        await system.actor_ref("/root/x").tell(Boom())
        await journal.wait_for(lambda: journal.count("start", "x") == 2)
        assert system.snapshot("/root/x").restarts_total == 1
        assert system.snapshot("/root/sibling").restarts_total == 0


class HangsAfterCrash(Recorder):
    async def stopping(self) -> None:
        self.journal.add("stop", self.name)
        await trio.sleep_forever()


async def test_a_crash_whose_stopping_hangs_is_restarted_after_the_shutdown_timeout(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    spec = tree(
        ActorSpec(
            "h",
            lambda: HangsAfterCrash("h", journal),
            shutdown_timeout_s=2.0,
            max_message_crashes=1,
        ),
    )
    async with running(spec) as system:
        ref = system.actor_ref("/root/h")
        await ref.tell(Boom())
        # The ask waits (by autojumped time) until the cleanup was abandoned
        # and the crash reached the supervisor, which restarted the actor.
        assert await ref.ask(Work(7), timeout=60) == 7
        crashed_at = journal.times_of("crash")[0]
        restarted_at = journal.times_of("start")[1]
        assert restarted_at - crashed_at == pytest.approx(2.0, abs=0.05)
        assert system.snapshot("/root/h").restarts_total == 1
        system.shutdown()  # its orderly stop hangs too: bounded by the same timeout


class Halter(Actor[Any]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def receive(self, message: Any) -> Any:
        self.context.halt("the licence expired", exit_code=7)

    async def stopping(self) -> None:
        self.journal.add("stop", "halter")


async def test_halt_stops_the_tree_in_order_then_run_raises_system_halted(
    journal: Journal,
) -> None:
    spec = tree(recorder("first", journal), ActorSpec("halter", lambda: Halter(journal)))
    system = ActorSystem(spec)
    halted: list[SystemHalted] = []
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run)
            await system.actor_ref("/root/halter").tell(Work())
    except* SystemHalted as group:
        halted = [e for e in group.exceptions if isinstance(e, SystemHalted)]
    [halt] = halted
    assert halt.exit_code == 7
    assert halt.reason == "/root/halter: the licence expired"
    # An orderly shutdown: reverse start order, every stopping() ran.
    assert journal.order("stop") == ["halter", "first"]


async def test_halt_refuses_an_exit_code_a_process_cannot_have() -> None:
    system = ActorSystem(tree(ActorSpec("a", lambda: Recorder("a", Journal()))))
    with pytest.raises(ValueError, match=r"0\.\.255"):
        system.halt("no", exit_code=256)


async def test_a_temporary_child_ended_by_system_exit_is_removed_not_the_tree(
    journal: Journal,
) -> None:
    spec = tree(
        ActorSpec("x", lambda: Exiter("x", journal), restart=Restart.TEMPORARY),
        recorder("sibling", journal),
    )
    async with running(spec) as system:
        await system.actor_ref("/root/x").tell(Quit())
        await journal.wait_for(lambda: journal.count("exit") == 1)
        await trio.testing.wait_all_tasks_blocked()
        assert system.root.children() == ["sibling"]
