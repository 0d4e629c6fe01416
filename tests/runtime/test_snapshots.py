"""Introspection: paths, snapshots and the tree operators see."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from olactors.runtime import (
    ActorNotFound,
    ActorSnapshot,
    ActorSpec,
    ActorSystem,
    Snapshot,
    Status,
    SupervisorSnapshot,
    SupervisorSpec,
    walk,
)

from .support import Boom, Journal, Recorder, Sleep, Work, recorder, running, tree


async def test_a_nested_actor_is_found_by_its_path(journal: Journal) -> None:
    spec = tree(
        SupervisorSpec(
            "webhooks",
            children=[SupervisorSpec("stripe", children=[recorder("worker-1", journal)])],
        )
    )
    async with running(spec) as system:
        ref = system.actor_ref("/root/webhooks/stripe/worker-1")
        assert await ref.ask(Work(1)) == 1
        assert "/root/webhooks/stripe/worker-1" in system.registry.paths()


async def test_an_actor_snapshot_reports_its_mailbox_and_work(journal: Journal) -> None:
    spec = tree(recorder("a", journal, mailbox_capacity=50))
    async with running(spec) as system:
        ref = system.actor_ref("/root/a")
        for n in range(4):
            await ref.ask(Work(n))
        ref.tell_nowait(Sleep(0.2))
        for n in range(3):
            ref.tell_nowait(Work(n))
        await trio.testing.wait_all_tasks_blocked()
        snap = system.snapshot("/root/a")
    assert isinstance(snap, ActorSnapshot)
    assert (snap.path, snap.name, snap.kind) == ("/root/a", "a", "Recorder")
    assert snap.status is Status.RUNNING
    assert (snap.mailbox_depth, snap.mailbox_capacity) == (3, 50)
    assert snap.handled == 4
    assert snap.uptime_s is not None
    assert snap.uptime_s >= 0
    assert snap.state == {"name": "a"}


async def test_a_snapshot_carries_the_last_error_and_restart_counts(journal: Journal) -> None:
    spec = tree(recorder("a", journal, max_message_crashes=1), within_s=60)
    async with running(spec) as system:
        await system.actor_ref("/root/a").tell(Boom("card declined"))
        await journal.wait_for(lambda: journal.count("start") == 2)
        snap = system.snapshot("/root/a")
    assert (snap.restarts_total, snap.restarts_in_window) == (1, 1)
    assert snap.last_error is not None
    assert (snap.last_error.type, snap.last_error.message) == ("ValueError", "card declined")
    assert "in receive" in snap.last_error.traceback


async def test_the_rate_is_messages_per_second_over_the_recent_window(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        await trio.sleep(30)  # long idle before: must not dilute the recent rate
        for n in range(200):
            await ref.ask(Work(n))
            await trio.sleep(0.05)  # 20 messages per second for 10 s
        snap = system.snapshot("/root/a")
    assert 18 <= snap.rate_per_s <= 22


async def test_the_tree_nests_supervisors_and_serialises_to_json(journal: Journal) -> None:
    spec = tree(recorder("a", journal), SupervisorSpec("sub", children=[recorder("b", journal)]))
    async with running(spec) as system:
        root = system.tree()
    assert isinstance(root, SupervisorSnapshot)
    assert [c.path for c in root.children] == ["/root/a", "/root/sub"]
    sub = root.children[1]
    assert isinstance(sub, SupervisorSnapshot)
    assert [c.path for c in sub.children] == ["/root/sub/b"]
    decoded: Any = msgspec.json.decode(msgspec.json.encode(root), type=Snapshot)
    assert decoded.children[1].children[0].status is Status.RUNNING


async def test_inspect_errors_are_reported_not_raised(journal: Journal) -> None:
    class Opaque(Recorder):
        def inspect(self) -> dict[str, Any]:
            raise RuntimeError("nope")

    async with running(tree(ActorSpec("o", lambda: Opaque("o", journal)))) as system:
        snap = system.snapshot("/root/o")
    assert isinstance(snap, ActorSnapshot)
    assert snap.state == {"inspect_error": "RuntimeError: nope"}


async def test_a_burst_in_the_first_second_shows_in_the_rate(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        ref = system.actor_ref("/root/a")
        await trio.sleep(0.2)
        for n in range(500):
            ref.tell_nowait(Work(n))
        await trio.sleep(0.8)
        snap = system.snapshot("/root/a")
    assert snap.rate_per_s == pytest.approx(500.0)


async def test_the_rate_of_a_busy_slow_actor_is_measured_over_the_window(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(recorder("slow", journal))) as system:
        ref = system.actor_ref("/root/slow")
        for _ in range(400):
            ref.tell_nowait(Sleep(0.5))  # two a second, never idle, sampled every 32 s
        await trio.sleep(100.25)  # between two completions, not on one
        snap = system.snapshot("/root/slow")
        system.force_stop()
    assert snap.rate_per_s == pytest.approx(2.0, abs=0.1)


async def test_walk_visits_every_node_parents_first_in_start_order(journal: Journal) -> None:
    inner = SupervisorSpec("mid", children=[recorder("x", journal), recorder("y", journal)])
    async with running(tree(recorder("a", journal), inner, recorder("b", journal))) as system:
        paths = [node.path for node in walk(system.tree())]
    assert paths == ["/root", "/root/a", "/root/mid", "/root/mid/x", "/root/mid/y", "/root/b"]


async def test_an_actor_snapshot_is_asked_for_by_path_and_refused_for_a_supervisor(
    journal: Journal,
) -> None:
    async with running(tree(recorder("a", journal))) as system:
        assert system.actor_snapshot("/root/a").state == {"name": "a"}
        with pytest.raises(ActorNotFound, match="a supervisor, not an actor"):
            system.actor_snapshot("/root")


async def test_times_of_day_come_from_the_clock_the_system_was_given(journal: Journal) -> None:
    system = ActorSystem(tree(recorder("a", journal, max_message_crashes=1)), clock=lambda: 1234.5)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        await system.actor_ref("/root/a").tell(Boom("x"))
        await journal.wait_for(lambda: journal.count("start", "a") == 2)
        error = system.snapshot("/root/a").last_error
        system.shutdown()
    assert error is not None
    assert error.at == 1234.5
    assert [dropped.at for dropped in system.dropped.recent] == [1234.5]
