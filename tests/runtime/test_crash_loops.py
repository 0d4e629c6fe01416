"""A slow crash loop that intensity never catches is visible, and escalates after max_tries."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from olactors.runtime import (
    ActorSpec,
    Backoff,
    RestartsExhausted,
    SupervisorSpec,
)

from .support import Boom, Journal, Recorder, Work, recorder, running, tree


def slow_loop_tree(journal: Journal, backoff: Backoff) -> SupervisorSpec:
    """OTP's 1 restart in 5 s under a root that never gives up itself."""
    middle = SupervisorSpec(
        "mid",
        children=[recorder("w", journal, max_message_crashes=1)],
        max_restarts=1,
        within_s=5.0,
        backoff=backoff,
    )
    return tree(middle)


async def crash_every(system: object, journal: Journal, gap_s: float, times: int) -> None:
    for _ in range(times):
        await trio.sleep(gap_s)
        before = journal.count("start", "w")
        await system.actor_ref("/root/mid/w").tell(Boom())  # type: ignore[attr-defined]
        await journal.wait_for(lambda: journal.count("start", "w") == before + 1)  # noqa: B023


async def test_a_child_crashing_slower_than_the_intensity_window_escalates_after_max_tries(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(initial_s=0.1, max_s=0.1, jitter=0.0, reset_after_s=60.0, max_tries=3)
    async with running(slow_loop_tree(journal, backoff)) as system:
        await crash_every(system, journal, gap_s=6.0, times=3)
        assert system.snapshot("/root/mid").restarts_total == 0
        await trio.sleep(6.0)
        await system.actor_ref("/root/mid/w").tell(Boom())
        with trio.fail_after(60):  # virtual time: fails at once if it never escalates
            await journal.wait_for(lambda: system.snapshot("/root/mid").restarts_total == 1)
        error = system.snapshot("/root/mid").last_error
        assert error is not None
        assert error.type == RestartsExhausted.__name__


async def test_a_child_that_stayed_up_long_enough_starts_counting_again(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(initial_s=0.1, max_s=0.1, jitter=0.0, reset_after_s=30.0, max_tries=2)
    async with running(slow_loop_tree(journal, backoff)) as system:
        await crash_every(system, journal, gap_s=31.0, times=5)
        assert system.snapshot("/root/mid").restarts_total == 0
        assert system.snapshot("/root/mid/w").restarts_since_stable == 1


async def test_backoff_grows_with_the_restarts_since_the_child_was_stable(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(
        initial_s=1.0, multiplier=2.0, max_s=100.0, jitter=0.0, reset_after_s=60.0, max_tries=None
    )
    async with running(slow_loop_tree(journal, backoff)) as system:
        await crash_every(system, journal, gap_s=10.0, times=3)
    crashes = journal.times_of("crash")
    starts = journal.times_of("start", "w")[1:]
    assert [round(s - c, 6) for c, s in zip(crashes, starts, strict=True)] == [1.0, 2.0, 4.0]


async def test_a_crash_looping_child_says_so_in_its_snapshot(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(initial_s=0.1, max_s=0.1, jitter=0.0, reset_after_s=60.0, max_tries=None)
    async with running(slow_loop_tree(journal, backoff)) as system:
        await crash_every(system, journal, gap_s=6.0, times=2)
        assert not system.snapshot("/root/mid/w").crash_looping
        await crash_every(system, journal, gap_s=6.0, times=1)
        snapshot = system.snapshot("/root/mid/w")
        assert (snapshot.restarts_since_stable, snapshot.crash_looping) == (3, True)


async def test_a_poison_message_alone_does_not_make_a_crash_loop(
    journal: Journal,
) -> None:
    spec = tree(recorder("w", journal, max_message_crashes=3))
    async with running(spec) as system:
        ref = system.actor_ref("/root/w")
        await ref.tell(Boom())
        assert await ref.ask(Work(1)) == 1
        snapshot = system.snapshot("/root/w")
        assert (snapshot.restarts_total, snapshot.restarts_since_stable) == (3, 1)
        assert not snapshot.crash_looping


@pytest.mark.parametrize(
    "options",
    [
        {"max_tries": 0},
        {"reset_after_s": math.inf},
        {"max_s": math.nan},
        {"initial_s": math.inf},
    ],
)
def test_a_backoff_that_cannot_bound_a_loop_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [math.inf, math.nan, -1.0])
def test_a_shutdown_timeout_must_be_finite(timeout: float) -> None:
    with pytest.raises(ValueError, match="shutdown_timeout_s"):
        ActorSpec("a", lambda: Recorder("a", Journal()), shutdown_timeout_s=timeout)
    with pytest.raises(ValueError, match="shutdown_timeout_s"):
        SupervisorSpec("s", shutdown_timeout_s=timeout)


async def test_a_crash_looping_child_that_then_stays_up_is_no_longer_crash_looping(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(initial_s=0.1, max_s=0.1, jitter=0.0, reset_after_s=30.0, max_tries=None)
    async with running(slow_loop_tree(journal, backoff)) as system:
        await crash_every(system, journal, gap_s=6.0, times=3)
        assert system.snapshot("/root/mid/w").crash_looping
        await trio.sleep(31.0)
        snapshot = system.snapshot("/root/mid/w")
        assert (snapshot.restarts_since_stable, snapshot.crash_looping) == (0, False)


async def test_a_supervisor_restarted_after_giving_up_gives_its_children_a_fresh_count(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(initial_s=0.1, max_s=0.1, jitter=0.0, reset_after_s=60.0, max_tries=2)
    async with running(slow_loop_tree(journal, backoff)) as system:
        await crash_every(system, journal, gap_s=6.0, times=2)
        await trio.sleep(6.0)
        await system.actor_ref("/root/mid/w").tell(Boom())
        with trio.fail_after(60):  # virtual time
            await journal.wait_for(lambda: system.snapshot("/root/mid").restarts_total == 1)
        # The new incarnation of mid: one more crash is a first restart, not an escalation.
        await crash_every(system, journal, gap_s=6.0, times=1)
        assert system.snapshot("/root/mid").restarts_total == 1
        assert system.snapshot("/root/mid/w").restarts_since_stable == 1
