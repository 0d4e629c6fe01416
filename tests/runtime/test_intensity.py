"""Restart intensity, escalation, top-level failure and backoff between restarts."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from olactors.runtime import (
    ActorSystem,
    Backoff,
    ChildStartFailed,
    SupervisorSpec,
    TopLevelFailure,
)

from .support import Boom, Journal, Recorder, running, tree
from .support import recorder as _recorder

NO_BACKOFF = Backoff(initial_s=0.0, max_s=0.0, max_tries=None)


def recorder(name: str, journal: Journal):  # type: ignore[no-untyped-def]
    return _recorder(name, journal, max_message_crashes=1)


def middle(journal: Journal, max_restarts: int, within_s: float = 5.0) -> SupervisorSpec:
    return SupervisorSpec(
        "mid",
        children=[recorder("w", journal)],
        max_restarts=max_restarts,
        within_s=within_s,
        backoff=NO_BACKOFF,
    )


async def crash(system: ActorSystem, journal: Journal, times: int) -> None:
    for _ in range(times):
        before = journal.count("start", "w")
        await system.actor_ref("/root/mid/w").tell(Boom())
        await journal.wait_for(lambda: journal.count("start", "w") == before + 1)  # noqa: B023


async def test_restarts_within_the_intensity_do_not_escalate(journal: Journal) -> None:
    async with running(tree(middle(journal, max_restarts=2))) as system:
        await crash(system, journal, times=2)
        mid = system.snapshot("/root/mid")
        assert mid.restarts_total == 0
        assert mid.intensity_used == 2


async def test_exceeding_the_intensity_escalates_exactly_once(journal: Journal) -> None:
    async with running(tree(middle(journal, max_restarts=2))) as system:
        await crash(system, journal, times=3)
        await trio.testing.wait_all_tasks_blocked()
        root = system.tree()
        mid = system.snapshot("/root/mid")
        assert mid.restarts_total == 1
        assert root.intensity_used == 1
        assert mid.last_error is not None
        assert mid.last_error.type == "RestartIntensityExceeded"


async def test_escalation_stops_the_children_before_the_parent_restarts_them(
    journal: Journal,
) -> None:
    async with running(tree(middle(journal, max_restarts=0))) as system:
        await crash(system, journal, times=1)
    # The crashed instance ran stopping(), then the restarted subtree started w anew.
    assert [e[0] for e in journal.events[:3]] == ["start", "crash", "stop"]
    assert journal.count("start", "w") == 2


async def test_restarts_older_than_the_period_no_longer_count(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    async with running(tree(middle(journal, max_restarts=1, within_s=5))) as system:
        for _ in range(3):
            await crash(system, journal, times=1)
            await trio.sleep(6)
        assert system.snapshot("/root/mid").restarts_total == 0


async def test_the_root_giving_up_is_a_top_level_failure(journal: Journal) -> None:
    system = ActorSystem(tree(recorder("w", journal), max_restarts=0))

    async def crash_when_up() -> None:
        await journal.wait_for(lambda: journal.count("start") == 1)
        await system.actor_ref("/root/w").tell(Boom())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(crash_when_up)
        with pytest.raises(TopLevelFailure, match="exceeded 0 restart"):
            await system.run()


async def test_a_child_that_fails_to_start_fails_the_system_start(journal: Journal) -> None:
    class Broken(Recorder):
        async def started(self) -> None:
            raise RuntimeError("no database")

    from olactors.runtime import ActorSpec

    spec = tree(
        recorder("a", journal),
        ActorSpec("broken", lambda: Broken("broken", journal)),
        recorder("c", journal),
    )
    with pytest.raises(ChildStartFailed, match="broken failed to start: RuntimeError"):
        await ActorSystem(spec).run()
    # "a" had started and was stopped again; "c" was never started.
    assert journal.events == [("start", "a", None), ("stop", "a", None)]


async def test_backoff_between_restarts_grows_exponentially(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(initial_s=1.0, multiplier=2.0, max_s=100.0, jitter=0.0)
    spec = tree(recorder("w", journal), backoff=backoff, within_s=1000)
    async with running(spec) as system:
        for _ in range(3):
            before = journal.count("start")
            await system.actor_ref("/root/w").tell(Boom())
            await journal.wait_for(lambda: journal.count("start") == before + 1)  # noqa: B023
    crashes = journal.times_of("crash")
    starts = journal.times_of("start")[1:]
    delays = [round(s - c, 6) for c, s in zip(crashes, starts, strict=True)]
    assert delays == [1.0, 2.0, 4.0]


@given(
    attempt=st.integers(min_value=1, max_value=200),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_backoff_delay_stays_between_the_jittered_and_full_exponential(
    attempt: int, draw: float
) -> None:
    backoff = Backoff(initial_s=0.1, multiplier=2.0, max_s=30.0, jitter=0.5)
    full = min(30.0, 0.1 * 2.0 ** (attempt - 1))
    delay = backoff.delay(attempt, rand=lambda: draw)
    assert full * 0.5 <= delay <= full


def expected_escalations(gaps: list[int], max_restarts: int, within_s: int) -> int:
    """OTP's rule: escalate when more than max_restarts fall within the period."""
    now, window, escalations = 0, [], 0
    for gap in gaps:
        now += gap
        window = [t for t in window if t >= now - within_s] + [now]
        if len(window) > max_restarts:
            escalations += 1
            window = []  # the restarted supervisor starts with a fresh window
    return escalations


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=12),
    max_restarts=st.integers(min_value=0, max_value=3),
    within_s=st.integers(min_value=1, max_value=10),
)
def test_escalation_follows_otp_intensity_for_any_crash_sequence(
    gaps: list[int], max_restarts: int, within_s: int
) -> None:
    async def scenario() -> int:
        journal = Journal()
        spec = tree(middle(journal, max_restarts, within_s), max_restarts=1000)
        async with running(spec) as system:
            for gap in gaps:
                await trio.sleep(gap)
                await crash(system, journal, times=1)
                await trio.testing.wait_all_tasks_blocked()
            return system.snapshot("/root/mid").restarts_total

    escalations = trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    assert escalations == expected_escalations(gaps, max_restarts, within_s)
