"""Supervisor strategies and child restart types, with OTP's semantics."""

from __future__ import annotations

import trio
import trio.testing

from olactors.runtime import ActorSpec, Restart, Status, Strategy

from .support import Boom, Exit, Journal, Work, running, tree
from .support import recorder as _recorder


def recorder(name: str, journal: Journal, restart: Restart = Restart.PERMANENT) -> ActorSpec:
    # A crashing message is dead-lettered at once here, so each Boom is one crash.
    return _recorder(name, journal, restart, max_message_crashes=1)


async def crash_and_settle(system, path: str, journal: Journal, starts_expected: int) -> None:  # type: ignore[no-untyped-def]
    await system.actor_ref(path).tell(Boom())
    await journal.wait_for(lambda: journal.count("start") == starts_expected)
    await trio.testing.wait_all_tasks_blocked()


async def test_one_for_one_restarts_only_the_crashed_child(journal: Journal) -> None:
    spec = tree(recorder("a", journal), recorder("b", journal), recorder("c", journal))
    async with running(spec) as system:
        await crash_and_settle(system, "/root/b", journal, starts_expected=4)
    assert journal.order("start") == ["a", "b", "c", "b"]


async def test_one_for_all_restarts_every_child_in_start_order(journal: Journal) -> None:
    spec = tree(
        recorder("a", journal),
        recorder("b", journal),
        recorder("c", journal),
        strategy=Strategy.ONE_FOR_ALL,
    )
    async with running(spec) as system:
        await crash_and_settle(system, "/root/b", journal, starts_expected=6)
    assert journal.order("start") == ["a", "b", "c", "a", "b", "c"]


async def test_one_for_all_stops_the_siblings_in_reverse_start_order(journal: Journal) -> None:
    spec = tree(
        recorder("a", journal),
        recorder("b", journal),
        recorder("c", journal),
        strategy=Strategy.ONE_FOR_ALL,
    )
    async with running(spec) as system:
        await crash_and_settle(system, "/root/a", journal, starts_expected=6)
        # b crashed nothing; a crashed and ran stopping() itself first.
        assert journal.order("stop") == ["a", "c", "b"]


async def test_rest_for_one_restarts_exactly_the_later_siblings(journal: Journal) -> None:
    spec = tree(
        recorder("a", journal),
        recorder("b", journal),
        recorder("c", journal),
        recorder("d", journal),
        strategy=Strategy.REST_FOR_ONE,
    )
    async with running(spec) as system:
        await crash_and_settle(system, "/root/b", journal, starts_expected=7)
        assert journal.order("start")[4:] == ["b", "c", "d"]
        assert journal.order("stop") == ["b", "d", "c"]
        snapshot = system.tree()
        restarts = {child.name: child.restarts_total for child in snapshot.children}
    assert restarts == {"a": 0, "b": 1, "c": 1, "d": 1}


async def test_a_permanent_child_is_restarted_after_a_normal_exit(journal: Journal) -> None:
    async with running(tree(recorder("p", journal))) as system:
        await system.actor_ref("/root/p").tell(Exit())
        await journal.wait_for(lambda: journal.count("start") == 2)


async def test_a_transient_child_that_exits_normally_is_not_restarted(journal: Journal) -> None:
    spec = tree(recorder("t", journal, restart=Restart.TRANSIENT))
    async with running(spec) as system:
        await system.actor_ref("/root/t").tell(Exit())
        await journal.wait_for(lambda: journal.count("stop") == 1)
        await trio.testing.wait_all_tasks_blocked()
        assert journal.count("start") == 1
        assert system.snapshot("/root/t").status is Status.STOPPED


async def test_a_transient_child_that_crashes_is_restarted(journal: Journal) -> None:
    spec = tree(recorder("t", journal, restart=Restart.TRANSIENT))
    async with running(spec) as system:
        await crash_and_settle(system, "/root/t", journal, starts_expected=2)


async def test_a_temporary_child_that_crashes_is_removed_not_restarted(journal: Journal) -> None:
    spec = tree(recorder("tmp", journal, restart=Restart.TEMPORARY), recorder("a", journal))
    async with running(spec) as system:
        await system.actor_ref("/root/tmp").tell(Boom())
        await journal.wait_for(lambda: journal.count("crash") == 1)
        await trio.testing.wait_all_tasks_blocked()
        assert system.root.children() == ["a"]
        assert journal.count("start", "tmp") == 1


async def test_a_temporary_sibling_is_not_restarted_by_one_for_all(journal: Journal) -> None:
    spec = tree(
        recorder("tmp", journal, restart=Restart.TEMPORARY),
        recorder("a", journal),
        strategy=Strategy.ONE_FOR_ALL,
    )
    async with running(spec) as system:
        await crash_and_settle(system, "/root/a", journal, starts_expected=3)
        assert system.root.children() == ["a"]
    assert journal.order("start") == ["tmp", "a", "a"]


async def test_a_restarted_child_keeps_its_ref(journal: Journal) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        await crash_and_settle(system, "/root/a", journal, starts_expected=2)
        assert await ref.ask(Work(7)) == 7


async def test_siblings_crashing_together_under_one_for_all_count_as_one_restart(
    journal: Journal,
) -> None:
    spec = tree(recorder("a", journal), recorder("b", journal), strategy=Strategy.ONE_FOR_ALL)
    async with running(spec) as system:
        # Both crash before the supervisor handles the first exit; the group
        # restart stops b, which settles b's own exit report.
        system.actor_ref("/root/a").tell_nowait(Boom())
        system.actor_ref("/root/b").tell_nowait(Boom())
        await journal.wait_for(lambda: journal.count("start") == 4)
        await trio.testing.wait_all_tasks_blocked()
        root = system.tree()
        assert root.intensity_used == 1
        assert [c.restarts_total for c in root.children] == [1, 1]


async def test_a_group_restart_also_starts_a_transient_sibling_that_had_ended(
    journal: Journal,
) -> None:
    spec = tree(
        recorder("t", journal, restart=Restart.TRANSIENT),
        recorder("a", journal),
        strategy=Strategy.ONE_FOR_ALL,
    )
    async with running(spec) as system:
        await system.actor_ref("/root/t").tell(Exit())
        await journal.wait_for(lambda: journal.count("stop", "t") == 1)
        await crash_and_settle(system, "/root/a", journal, starts_expected=4)
    assert journal.order("start") == ["t", "a", "t", "a"]
