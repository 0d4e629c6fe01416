"""The crash injector at /root/chaos: crashes at random among its targets, and on request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from olactors.chaos import CHAOS_PATH, Chaos, CrashNow, CrashRefused, Targets
from olactors.config import ChaosConfig
from olactors.metrics import REGISTRY
from olactors.runtime import (
    ActorNotFound,
    ActorSpec,
    ActorSystem,
    Backoff,
    Status,
    SupervisorSpec,
)

from ..runtime.support import Journal, recorder, running, tree

IMMEDIATE = Backoff(initial_s=0.0, max_s=0.0, max_tries=None)


def daemon_like(journal: Journal, chaos: Chaos) -> SupervisorSpec:
    """Couriers to hit, a listener to spare, a store, and the injector last, as in the daemon.

    Restarts are immediate (no jittered backoff), so a seeded run is the same run.
    """

    def supervisor(name: str, *children: ActorSpec | SupervisorSpec) -> SupervisorSpec:
        return SupervisorSpec(name, children=children, max_restarts=1000, backoff=IMMEDIATE)

    return tree(
        supervisor("store", recorder("writer", journal)),
        supervisor(
            "delivery",
            supervisor("webhooks.stripe", recorder("to-app", journal), recorder("log", journal)),
        ),
        supervisor("http", recorder("public", journal)),
        *chaos.specs(),
    )


def injector_state(system: ActorSystem) -> dict[str, Any]:
    return system.actor_snapshot(CHAOS_PATH).state


@asynccontextmanager
async def with_injections(
    journal: Journal, settings: ChaosConfig, count: int
) -> AsyncIterator[ActorSystem]:
    """A running system once its injector has crashed ``count`` actors."""
    async with running(daemon_like(journal, Chaos(settings))) as system:
        with trio.fail_after(10_000):  # virtual seconds: the clock jumps
            while injector_state(system)["injected"] < count:
                await trio.sleep(0.1)
        yield system


def crashed(system: ActorSystem) -> list[str]:
    return [injection["path"] for injection in injector_state(system)["recent"]]


async def test_the_random_crasher_only_hits_actors_its_targets_match(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=1.0, targets=["/root/delivery/*/*"], seed=3)
    async with with_injections(journal, settings, 20) as system:
        hit = set(crashed(system))
        spared = [system.actor_snapshot(p).restarts_total for p in ("/root/http/public",)]
    assert hit == {"/root/delivery/webhooks.stripe/to-app", "/root/delivery/webhooks.stripe/log"}
    assert spared == [0]


async def test_a_catch_all_target_spares_the_store_supervisors_and_the_injector(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=1.0, targets=["/root/**"], seed=5)
    async with with_injections(journal, settings, 20) as system:
        hit = set(crashed(system))
        store = system.actor_snapshot("/root/store/writer").restarts_total
        injector = system.actor_snapshot(CHAOS_PATH).restarts_total
    assert hit == {
        "/root/delivery/webhooks.stripe/to-app",
        "/root/delivery/webhooks.stripe/log",
        "/root/http/public",
    }
    assert (store, injector) == (0, 0)


async def test_a_target_not_running_at_the_tick_is_passed_over(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    slow = Backoff(initial_s=10_000.0, max_s=10_000.0, jitter=0.0, max_tries=None)
    settings = ChaosConfig(enabled=True, crash_every_s=1.0, targets=["/root/*/*"], seed=9)
    spec = tree(
        SupervisorSpec("slow", children=[recorder("a", journal)], backoff=slow),
        SupervisorSpec("quick", children=[recorder("b", journal)], max_restarts=100),
        *Chaos(settings).specs(),
        backoff=IMMEDIATE,
    )
    async with running(spec) as system:
        system.inject_crash("/root/slow/a")  # restarting, for longer than the test runs
        with trio.fail_after(1000):
            while injector_state(system)["injected"] < 10:
                await trio.sleep(0.1)
        hit = set(crashed(system))
        injector = system.actor_snapshot(CHAOS_PATH).restarts_total
    assert hit == {"/root/quick/b"}
    assert injector == 0


async def test_a_target_naming_the_store_may_crash_it(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=1.0, targets=["/root/store/*"], seed=1)
    async with with_injections(journal, settings, 2) as system:
        hit = set(crashed(system))
    assert hit == {"/root/store/writer"}


async def test_each_random_crash_goes_through_the_targets_supervisor(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=1.0, targets=["/root/http/*"], seed=2)
    async with with_injections(journal, settings, 3) as system:
        with trio.fail_after(10_000):
            while journal.count("start", "public") < 4:
                await trio.sleep(0.1)
        public = system.actor_snapshot("/root/http/public")
    assert public.restarts_total == 3
    assert public.last_error is not None
    assert public.last_error.type == "InjectedCrash"


async def crash_times(settings: ChaosConfig, count: int) -> list[tuple[float, str]]:
    """When (virtual seconds from the start) each actor stopped, crashed by the injector."""
    journal = Journal()
    begun = trio.current_time()
    async with with_injections(journal, settings, count):
        return [
            (round(t - begun, 6), who)
            for t, (what, who, _) in zip(journal.times, journal.events, strict=True)
            if what == "stop"
        ]


async def test_a_seeded_injector_repeats_its_run(autojump_clock: trio.testing.MockClock) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=2.0, targets=["/root/**"], seed=11)
    first = await crash_times(settings, 10)
    again = await crash_times(settings, 10)
    assert len(first) == 10
    assert first == again


async def test_the_waits_average_crash_every_s(autojump_clock: trio.testing.MockClock) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=4.0, targets=["/root/**"], seed=4)
    begun = trio.current_time()
    async with with_injections(Journal(), settings, 200):
        elapsed = trio.current_time() - begun
    # 200 exponential waits of mean 4 s: within a few standard errors (4/sqrt(200)).
    assert 3.0 < elapsed / 200 < 5.0


async def test_with_crash_every_s_zero_nothing_crashes_until_asked(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=0.0, targets=["/root/**"])
    async with running(daemon_like(journal, Chaos(settings))) as system:
        await trio.sleep(3600)
        quiet = injector_state(system)["injected"]
        injection = await system.actor_ref(CHAOS_PATH).ask(CrashNow("/root/http/public"))
        await journal.wait_for(lambda: journal.count("start", "public") == 2)
        state = injector_state(system)
    assert quiet == 0
    assert (injection.path, injection.trigger) == ("/root/http/public", "request")
    assert (state["injected"], state["by_trigger"]) == (1, {"request": 1})


async def test_a_request_for_an_unknown_path_or_for_the_injector_is_refused(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ChaosConfig(enabled=True, crash_every_s=0.0)
    async with running(daemon_like(journal, Chaos(settings))) as system:
        injector = system.actor_ref(CHAOS_PATH)
        with pytest.raises(ActorNotFound):
            await injector.ask(CrashNow("/root/nobody"))
        with pytest.raises(ActorNotFound):
            await injector.ask(CrashNow("/root/delivery"))
        with pytest.raises(CrashRefused):
            await injector.ask(CrashNow(CHAOS_PATH))
        state = system.actor_snapshot(CHAOS_PATH)
    assert (state.state["injected"], state.restarts_total) == (0, 0)


async def test_a_request_for_an_actor_not_running_is_refused(journal: Journal) -> None:
    slow = Backoff(initial_s=100.0, max_s=100.0, jitter=0.0, max_tries=None)
    settings = ChaosConfig(enabled=True, crash_every_s=0.0)
    spec = tree(recorder("a", journal), *Chaos(settings).specs(), backoff=slow)
    async with running(spec) as system:
        injector = system.actor_ref(CHAOS_PATH)
        await injector.ask(CrashNow("/root/a"))
        with trio.fail_after(5):
            while system.actor_snapshot("/root/a").status != Status.RESTARTING:
                await trio.sleep(0.001)
        with pytest.raises(CrashRefused, match="not running"):
            await injector.ask(CrashNow("/root/a"))
        state = injector_state(system)
    assert state["injected"] == 1


async def test_each_injection_is_logged_as_a_warning_and_counted_in_the_metric(
    journal: Journal, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    labels = {"trigger": "random", "pattern": "/root/http/*"}
    before = REGISTRY.get_sample_value("olactors_chaos_crashes_total", labels) or 0.0
    settings = ChaosConfig(enabled=True, crash_every_s=1.0, targets=["/root/http/*"], seed=8)
    with caplog.at_level(logging.WARNING, logger="olactors.chaos"):
        async with with_injections(journal, settings, 3):
            pass
    after = REGISTRY.get_sample_value("olactors_chaos_crashes_total", labels)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "olactors.chaos" and r.levelno == logging.WARNING
    ]
    assert (
        warnings[:3]
        == ["chaos: crash injected into /root/http/public (random, target /root/http/*)"] * 3
    )
    assert after is not None
    assert after - before >= 3


def test_disabled_chaos_adds_nothing_to_the_tree() -> None:
    assert Chaos(ChaosConfig()).specs() == []
    assert [spec.name for spec in Chaos(ChaosConfig(enabled=True)).specs()] == ["chaos"]


PATTERNS = ["/root/delivery/*/*", "/root/broadcast/**/courier", "/root/store/w*", "/root/**"]


@pytest.mark.parametrize(
    ("path", "matched"),
    [
        ("/root/delivery/webhooks.stripe/to-app", "/root/delivery/*/*"),
        ("/root/delivery/wakes", "/root/**"),  # one segment short of */*
        ("/root/broadcast/push/courier", "/root/broadcast/**/courier"),
        ("/root/broadcast/courier", "/root/broadcast/**/courier"),
        ("/root/store/writer", "/root/store/w*"),
        ("/root/store/reader", None),  # /root/** does not name the store
        ("/other/x", None),
    ],
)
def test_target_patterns_match_by_path_segment(path: str, matched: str | None) -> None:
    assert Targets(PATTERNS).match(path) == matched
