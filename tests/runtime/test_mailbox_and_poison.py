"""Beyond OTP: mailboxes survive restarts, poison messages are dropped."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from olactors.runtime import (
    Actor,
    ActorSpec,
    DroppedMessages,
    MessageDropped,
    Restart,
    SupervisorSpec,
)

from .support import Boom, Journal, Recorder, Work, recorder, running, tree


async def test_messages_queued_during_a_crash_are_delivered_after_the_restart(
    journal: Journal,
) -> None:
    spec = tree(recorder("a", journal, max_message_crashes=1))
    async with running(spec) as system:
        ref = system.actor_ref("/root/a")
        ref.tell_nowait(Boom())
        for n in range(20):
            ref.tell_nowait(Work(n))
        await journal.wait_for(lambda: journal.count("handled") == 20)
    assert journal.count("start", "a") == 2
    assert [e[2] for e in journal.of("handled")] == list(range(20))


async def test_a_poison_message_is_dropped_after_n_crashes_and_the_next_is_handled(
    journal: Journal,
) -> None:
    letters = DroppedMessages()
    spec = tree(recorder("a", journal, max_message_crashes=3))
    async with running(spec, dropped=letters) as system:
        ref = system.actor_ref("/root/a")
        ref.tell_nowait(Boom("poison"))
        ref.tell_nowait(Work(1))
        await journal.wait_for(lambda: journal.count("handled") == 1)
    assert journal.count("crash") == 3
    assert journal.count("start", "a") == 4
    [letter] = letters.recent
    assert letter.path == "/root/a"
    assert letter.message == Boom("poison")
    assert (letter.reason, letter.crashes, letter.error_type) == ("poison", 3, "ValueError")


async def test_a_poison_message_under_otp_default_intensity_does_not_escalate(
    journal: Journal,
) -> None:
    # OTP's default intensity (1 restart in 5 s) and the default of 3 crashes in
    # a row: the redeliveries of one message are one failure, not three.
    letters = DroppedMessages()
    spec = tree(recorder("a", journal), max_restarts=1, within_s=5.0)
    async with running(spec, dropped=letters) as system:
        ref = system.actor_ref("/root/a")
        ref.tell_nowait(Boom("poison"))
        ref.tell_nowait(Work(1))
        await journal.wait_for(lambda: journal.count("handled") == 1)
        root = system.tree()
    assert root.restarts_total == 0
    assert root.intensity_used == 1
    [letter] = letters.recent
    assert (letter.reason, letter.crashes, letter.error_type) == ("poison", 3, "ValueError")


async def test_two_different_poison_messages_are_two_failures_toward_intensity(
    journal: Journal,
) -> None:
    mid = SupervisorSpec("mid", children=[recorder("a", journal)], max_restarts=1, within_s=60)
    async with running(tree(mid)) as system:
        ref = system.actor_ref("/root/mid/a")
        ref.tell_nowait(Boom("first"))
        ref.tell_nowait(Boom("second"))
        # The first crash on "second", then the start that follows it.
        second = ("crash", "a", "second")
        await journal.wait_for(lambda: second in journal.events)
        after = journal.events.index(second)
        await journal.wait_for(lambda: ("start", "a", None) in journal.events[after:])
        mid_snapshot = system.snapshot("/root/mid")
    assert mid_snapshot.restarts_total == 1
    assert mid_snapshot.last_error is not None
    assert mid_snapshot.last_error.type == "RestartIntensityExceeded"
    assert [tag for _, _, tag in journal.of("crash")][:4] == ["first"] * 3 + ["second"]


async def test_asking_with_a_poison_message_raises_message_dropped(
    journal: Journal,
) -> None:
    spec = tree(recorder("a", journal, max_message_crashes=2))
    async with running(spec) as system:
        with pytest.raises(MessageDropped) as caught:
            await system.actor_ref("/root/a").ask(Boom("bad"))
    assert caught.value.crashes == 2
    assert isinstance(caught.value.error, ValueError)


async def test_a_message_that_succeeds_on_redelivery_is_not_dropped(
    journal: Journal,
) -> None:
    crashed_once: set[int] = set()

    class Flaky(Recorder):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Work) and message.n not in crashed_once:
                crashed_once.add(message.n)
                raise RuntimeError("transient")
            return await super().receive(message)

    letters = DroppedMessages()
    spec = tree(ActorSpec("f", lambda: Flaky("f", journal), max_message_crashes=2))
    async with running(spec, dropped=letters) as system:
        assert await system.actor_ref("/root/f").ask(Work(5)) == 5
    assert letters.total == 0


async def test_crashes_count_only_in_a_row_for_the_same_message(journal: Journal) -> None:
    # Two different messages each crashing once must not add up to one poison.
    letters = DroppedMessages()
    crashed: set[int] = set()

    class OnceEach(Recorder):
        async def receive(self, message: Any) -> Any:
            if message.n not in crashed:
                crashed.add(message.n)
                raise RuntimeError("once")
            return await super().receive(message)

    spec = tree(ActorSpec("o", lambda: OnceEach("o", journal), max_message_crashes=2))
    async with running(spec, dropped=letters) as system:
        ref = system.actor_ref("/root/o")
        ref.tell_nowait(Work(1))
        ref.tell_nowait(Work(2))
        await journal.wait_for(lambda: journal.count("handled") == 2)
    assert letters.total == 0


async def test_messages_left_when_an_actor_stops_for_good_are_dropped(
    journal: Journal,
) -> None:
    class Stuck(Actor[Any]):
        async def receive(self, message: Any) -> None:
            await trio.sleep_forever()

    letters = DroppedMessages()
    spec = tree(ActorSpec("s", Stuck, restart=Restart.TEMPORARY, shutdown_timeout_s=0))
    async with running(spec, dropped=letters) as system:
        ref = system.actor_ref("/root/s")
        for n in range(3):
            ref.tell_nowait(Work(n))
        await trio.testing.wait_all_tasks_blocked()
        await system.root.remove_child("s")
    # The one in hand was cancelled and goes back in front: nothing is lost silently.
    assert [(dl.message, dl.reason) for dl in letters.recent] == [
        (Work(0), "stopped"),
        (Work(1), "stopped"),
        (Work(2), "stopped"),
    ]
