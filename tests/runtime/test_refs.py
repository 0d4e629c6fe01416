"""ActorRef: tell, tell_nowait and ask."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from olactors.runtime import (
    Actor,
    ActorNotFound,
    ActorSpec,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    MailboxFull,
    Restart,
    SupervisorSpec,
)

from .support import Journal, Sleep, Work, recorder, running, tree


class Gate(msgspec.Struct, frozen=True):
    pass


class Gated(Actor[Any]):
    """Blocks on its first message until the test opens the gate."""

    def __init__(self, gate: trio.Event, journal: Journal) -> None:
        self.gate = gate
        self.journal = journal

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Gate):
            await self.gate.wait()
        else:
            self.journal.add("handled", "gated", message.n)
        return None


async def test_tell_delivers_messages_in_order(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        for n in range(50):
            await ref.tell(Work(n))
        await journal.wait_for(lambda: journal.count("handled") == 50)
    assert [e[2] for e in journal.of("handled")] == list(range(50))


async def test_tell_waits_while_the_mailbox_is_full(journal: Journal) -> None:
    gate = trio.Event()
    spec = ActorSpec("g", lambda: Gated(gate, journal), mailbox_capacity=2)
    async with running(tree(spec)) as system:
        ref = system.actor_ref("/root/g")
        await ref.tell(Gate())
        await trio.testing.wait_all_tasks_blocked()  # the actor now holds the gate message
        await ref.tell(Work(1))
        await ref.tell(Work(2))
        with trio.move_on_after(0.2) as scope:
            await ref.tell(Work(3))
        assert scope.cancelled_caught, "a third tell into a full mailbox of 2 must wait"
        gate.set()
        await ref.tell(Work(3))
        await journal.wait_for(lambda: journal.count("handled") == 3)


async def test_tell_nowait_raises_mailbox_full_at_capacity(journal: Journal) -> None:
    gate = trio.Event()
    spec = ActorSpec("g", lambda: Gated(gate, journal), mailbox_capacity=1)
    async with running(tree(spec)) as system:
        ref = system.actor_ref("/root/g")
        ref.tell_nowait(Gate())
        await trio.testing.wait_all_tasks_blocked()
        ref.tell_nowait(Work(1))
        with pytest.raises(MailboxFull) as caught:
            ref.tell_nowait(Work(2))
        assert caught.value.capacity == 1
        gate.set()


async def test_ask_returns_the_reply(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        assert await system.actor_ref("/root/a").ask(Work(42)) == 42


async def test_ask_raises_ask_timeout_when_no_reply_comes(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        with pytest.raises(AskTimeout) as caught:
            await system.actor_ref("/root/a").ask(Sleep(10), timeout=1)
        assert caught.value.timeout == 1


async def test_a_late_reply_is_dropped_and_never_reaches_a_later_ask(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    class SlowFirst(Actor[Work]):
        async def receive(self, message: Work) -> int:
            if message.n == 1:
                await trio.sleep(5)
            return message.n

    async with running(tree(ActorSpec("s", SlowFirst))) as system:
        ref = system.actor_ref("/root/s")
        with pytest.raises(AskTimeout):
            await ref.ask(Work(1), timeout=1)
        # The first message is still being handled; its reply (1) comes later
        # and must not be taken as the answer to this one.
        assert await ref.ask(Work(2), timeout=10) == 2


async def test_tell_refuses_a_message_that_is_not_a_struct(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        with pytest.raises(TypeError, match=r"msgspec\.Struct"):
            await system.actor_ref("/root/a").tell({"n": 1})  # type: ignore[arg-type]


async def test_tell_to_an_actor_gone_for_good_raises_actor_stopped(journal: Journal) -> None:
    spec = recorder("t", journal, restart=Restart.TEMPORARY)
    async with running(tree(spec)) as system:
        ref = system.actor_ref("/root/t")
        await system.root.remove_child("t")
        with pytest.raises(ActorStopped):
            await ref.tell(Work(1))


async def test_a_sender_blocked_on_a_full_mailbox_wakes_with_actor_stopped(
    journal: Journal,
) -> None:
    gate = trio.Event()
    spec = ActorSpec("g", lambda: Gated(gate, journal), mailbox_capacity=1, shutdown_timeout_s=0)
    async with running(tree(spec)) as system:
        ref = system.actor_ref("/root/g")
        await ref.tell(Gate())
        await ref.tell(Work(1))
        async with trio.open_nursery() as nursery:

            async def blocked_sender() -> None:
                with pytest.raises(ActorStopped):
                    await ref.tell(Work(2))
                journal.add("sender", "woke")

            nursery.start_soon(blocked_sender)
            await trio.testing.wait_all_tasks_blocked()
            await system.root.remove_child("g")
        assert journal.count("sender") == 1


async def test_a_shorter_ask_times_out_on_time_behind_a_longer_one(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        ref.tell_nowait(Sleep(100))
        began = trio.current_time()
        async with trio.open_nursery() as nursery:

            async def long_ask() -> None:
                with pytest.raises(AskTimeout):
                    await ref.ask(Work(1), timeout=30)

            nursery.start_soon(long_ask)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(AskTimeout):
                await ref.ask(Work(2), timeout=1)
            assert trio.current_time() - began == pytest.approx(1, abs=0.02)
        system.force_stop()


async def test_an_ask_waiting_for_room_in_a_full_mailbox_times_out(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    gate = trio.Event()
    spec = ActorSpec("g", lambda: Gated(gate, journal), mailbox_capacity=1)
    async with running(tree(spec)) as system:
        ref = system.actor_ref("/root/g")
        ref.tell_nowait(Gate())
        await trio.testing.wait_all_tasks_blocked()
        ref.tell_nowait(Work(1))
        with pytest.raises(AskTimeout):
            await ref.ask(Work(2), timeout=2)
        gate.set()


async def test_an_ask_left_waiting_when_the_system_stops_gets_actor_stopped(
    journal: Journal,
) -> None:
    system = ActorSystem(tree(recorder("a", journal, shutdown_timeout_s=0)))
    outcome: list[BaseException] = []
    async with trio.open_nursery() as callers, trio.open_nursery() as daemon:
        await daemon.start(system.run)
        ref = system.actor_ref("/root/a")
        ref.tell_nowait(Sleep(100))

        async def caller() -> None:
            try:
                await ref.ask(Work(1), timeout=60)
            except ActorStopped as exc:
                outcome.append(exc)

        callers.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        system.shutdown()
    assert len(outcome) == 1


async def test_an_ask_with_an_infinite_timeout_waits_for_its_reply(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        await ref.tell(Sleep(3600.0))
        assert await ref.ask(Work(5), timeout=math.inf) == 5


@pytest.mark.parametrize("timeout", [math.nan, -1.0])
async def test_an_ask_with_a_meaningless_timeout_is_refused_before_it_is_sent(
    journal: Journal, timeout: float
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        with pytest.raises(ValueError, match="ask timeout"):
            await system.actor_ref("/root/a").ask(Work(1), timeout=timeout)
        await trio.testing.wait_all_tasks_blocked()
    assert journal.count("handled") == 0


class Echo(msgspec.Struct, frozen=True):
    copies: int


class SelfTeller(Actor[Any]):
    """Tells itself more messages than its mailbox holds."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Echo):
            try:
                for n in range(message.copies):
                    await self.context.ref.tell(Work(n))
            except MailboxFull:
                self.journal.add("full", "self")
        return None


async def test_an_actor_telling_itself_on_a_full_mailbox_gets_mailbox_full(
    journal: Journal,
) -> None:
    spec = tree(ActorSpec("s", lambda: SelfTeller(journal), mailbox_capacity=4))
    async with running(spec) as system:
        await system.actor_ref("/root/s").ask(Echo(copies=10), timeout=math.inf)
    assert journal.count("full") == 1


class Finder(Actor[Any]):
    """Looks paths up through its context, typed: an actor's ref, a supervisor."""

    async def receive(self, message: Any) -> Any:
        found = []
        for lookup, path in (
            (self.context.actor_ref, "/root/a"),
            (self.context.supervisor, "/root"),
            (self.context.actor_ref, "/root"),
            (self.context.supervisor, "/root/a"),
        ):
            try:
                found.append(type(lookup(path)).__name__)
            except ActorNotFound as exc:
                found.append(type(exc).__name__)
        return found


async def test_an_actor_looks_up_refs_and_supervisors_by_kind(journal: Journal) -> None:
    spec = tree(recorder("a", journal), ActorSpec("finder", Finder))
    async with running(spec) as system:
        found = await system.actor_ref("/root/finder").ask(Gate())
    assert found == ["ActorRef", "SupervisorRef", "ActorNotFound", "ActorNotFound"]


class RootReader(Actor[Any]):
    async def receive(self, message: Any) -> Any:
        return self.context.root


async def test_an_actor_knows_the_path_of_its_trees_root(journal: Journal) -> None:
    spec = SupervisorSpec(
        "top", children=[SupervisorSpec("mid", children=[ActorSpec("r", RootReader)])]
    )
    async with running(spec) as system:
        assert await system.actor_ref("/top/mid/r").ask(Gate()) == "/top"
