"""Answers that are not a plain return value: expected errors and deferred replies."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pytest
import trio

from olactors.runtime import Actor, ActorSpec, Reply, ReplyAbandoned

from .support import Journal, running, tree


class Charge(msgspec.Struct, frozen=True):
    cents: int


class Declined(Exception):
    pass


async def test_a_declared_reply_error_goes_to_the_asker_without_a_crash(
    journal: Journal,
) -> None:
    class Payments(Actor[Charge]):
        reply_errors: ClassVar[tuple[type[Exception], ...]] = (Declined,)

        async def started(self) -> None:
            journal.add("start", "payments")

        async def receive(self, message: Charge) -> int:
            if message.cents <= 0:
                raise Declined("amount must be positive")
            return message.cents

    async with running(tree(ActorSpec("payments", Payments))) as system:
        ref = system.actor_ref("/root/payments")
        with pytest.raises(Declined):
            await ref.ask(Charge(0))
        assert await ref.ask(Charge(5)) == 5
    assert journal.count("start") == 1


class GroupCommitter(Actor[Charge]):
    """Defers each answer and answers the whole batch once the mailbox is empty."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.pending: list[tuple[Reply, int]] = []

    async def receive(self, message: Charge) -> None:
        self.pending.append((self.context.defer(), message.cents))

    async def drained(self) -> None:
        self.journal.add("commit", "gc", len(self.pending))
        await trio.sleep(0)  # stands for the fsync
        for reply, cents in self.pending:
            reply.resolve(cents * 2)
        self.pending.clear()


async def test_deferred_replies_let_an_actor_answer_a_batch_at_once(journal: Journal) -> None:
    answers: list[int] = []
    async with running(tree(ActorSpec("gc", lambda: GroupCommitter(journal)))) as system:
        ref = system.actor_ref("/root/gc")
        async with trio.open_nursery() as nursery:
            for cents in range(1, 33):

                async def ask(cents: int = cents) -> None:
                    answers.append(await ref.ask(Charge(cents)))

                nursery.start_soon(ask)
    assert sorted(answers) == [2 * c for c in range(1, 33)]
    commits = [e[2] for e in journal.of("commit")]
    assert sum(commits) == 32
    assert len(commits) < 32, "asks arriving together must share a commit"


async def test_a_deferred_reply_pending_when_the_actor_crashes_is_abandoned(
    journal: Journal,
) -> None:
    class Forgetful(Actor[Any]):
        async def receive(self, message: Any) -> None:
            if isinstance(message, Charge):
                self.context.defer()
                self.context.nursery.start_soon(self.explode)

        async def explode(self) -> None:
            raise RuntimeError("disk gone")

    async with running(tree(ActorSpec("f", Forgetful))) as system:
        with pytest.raises(ReplyAbandoned):
            await system.actor_ref("/root/f").ask(Charge(1))


async def test_an_ended_instance_cannot_steer_the_one_that_replaced_it(journal: Journal) -> None:
    instances: list[Actor[Any]] = []

    class Remembered(Actor[Any]):
        async def started(self) -> None:
            instances.append(self)

        async def receive(self, message: Any) -> None:
            raise RuntimeError("crash")

    spec = tree(ActorSpec("r", Remembered, max_message_crashes=1))
    async with running(spec) as system:
        await system.actor_ref("/root/r").tell(Charge(1))
        while len(instances) < 2:
            await trio.sleep(0.01)
        with pytest.raises(RuntimeError, match="has ended"):
            instances[0].context.stop()
        assert system.snapshot("/root/r").status.value == "running"
