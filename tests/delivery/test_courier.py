"""The courier: retries, breakers, pauses, 410s, order, crash loops and shutdown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec
import trio

from olactors.delivery import (
    AttemptRejected,
    DestinationGone,
    DestinationSpec,
    HandlerDestination,
    Pause,
    Resume,
    RetryPolicy,
    RouteState,
    courier_path,
    queue_name,
    state_key,
)
from olactors.resilience import BreakerSettings
from olactors.store import Delivery, SqliteBackend
from olactors.store._commands import Claim

from .support import NS, App, AppDestination, engine, failing

FAST = RetryPolicy((0.01, 0.01), jitter=0.0)


def to(app: App, name: str = "app", **options: object) -> DestinationSpec:
    options.setdefault("policy", FAST)
    return DestinationSpec(NS, name, lambda refs: AppDestination(app), **options)  # type: ignore[arg-type]


async def test_a_failed_attempt_is_retried_and_recorded(tmp_path: Path) -> None:
    app = App(script={"e1": [failing(503)]})
    async with engine(tmp_path, [to(app)]) as eng:
        await eng.publish("e1")
        await app.wait_for(lambda: len(app.calls) == 2)
        await eng.until(lambda: eng.courier()["delivered"] == 1)
        record = await eng.store.event(NS, "e1")
    assert [(a.outcome, a.status) for a in record.attempts] == [
        ("http_error", 503),
        ("delivered", 200),
    ]
    assert record.status == "delivered"


async def test_past_the_schedule_an_event_is_dead_lettered_with_its_last_error(
    tmp_path: Path,
) -> None:
    app = App(script={"e1": [failing(500)] * 3})
    async with engine(tmp_path, [to(app)]) as eng:
        await eng.publish("e1")
        await eng.until(lambda: eng.courier()["dead_lettered"] == 1)
        [dead] = (await eng.store.dead_letters(queue_name(NS, "app"))).items
    assert dead.attempts == 3
    assert dead.last_error == "after 3 attempts: app answered 500"


async def test_an_orderly_stop_gives_back_what_it_did_not_finish_without_spending_it(
    tmp_path: Path,
) -> None:
    app = App(script={"e1": [trio.sleep_forever]})
    async with engine(tmp_path, [to(app, max_in_flight=1)], drain_s=0.2) as eng:
        await eng.publish("e1")
        await eng.publish("e2")
        await app.wait_for(lambda: app.order() == ["e1"])
    # Stopped: e1 was cut short and given back, e2 never started; both are ready
    # now, and their next claim is their first attempt.
    backend = SqliteBackend(tmp_path / "o.db")
    backend.open()
    try:
        [claimed] = backend.execute([Claim(queue_name(NS, "app"), 30, "t", limit=10)])
    finally:
        backend.close()
    assert sorted((lease.item.id, lease.item.attempt) for lease in claimed.leases) == [
        ("e1", 1),
        ("e2", 1),
    ]


async def test_an_open_breaker_holds_events_without_spending_their_attempts(
    tmp_path: Path,
) -> None:
    breaker = BreakerSettings(window_size=2, minimum_calls=2, open_s=0.5, max_open_s=0.5)
    app = App(script={"e1": [failing(500)] * 3, "e2": [failing(500)] * 3})
    async with engine(tmp_path, [to(app, breaker=breaker, max_in_flight=1)]) as eng:
        await eng.publish("e1")
        await eng.publish("e2")
        await eng.until(lambda: eng.courier()["breaker"] == "open")
        open_until = eng.courier()["breaker_open_until"]
        await eng.publish("e3")
        await app.wait_for(lambda: "e3" in app.order())
        await eng.until(lambda: (eng.courier()["delivered"]) >= 1)
        record = await eng.store.event(NS, "e3")
    first_e3 = next(at for event_id, at in app.calls if event_id == "e3")
    assert first_e3 >= open_until  # nothing went while the breaker was open
    assert [a.outcome for a in record.attempts if a.outcome != "breaker_open"] == ["delivered"]


async def test_a_paused_destination_keeps_its_events_and_sends_them_in_order_on_resume(
    tmp_path: Path,
) -> None:
    app = App()
    async with engine(tmp_path, [to(app, max_in_flight=1)]) as eng:
        ref = eng.system.actor_ref(courier_path(NS, "app"))
        paused = await ref.ask(Pause("maintenance"), timeout=5)
        assert paused.paused
        for n in range(3):
            await eng.publish(f"e{n}")
        assert (await eng.store.counts(queue_name(NS, "app"))).ready == 3
        resumed_at = time.time()
        await ref.ask(Resume(), timeout=5)
        await app.wait_for(lambda: len(app.calls) == 3)
    assert app.order() == ["e0", "e1", "e2"]
    assert all(at >= resumed_at for _, at in app.calls)


async def test_a_410_pauses_the_destination_says_why_and_keeps_its_events(
    tmp_path: Path,
) -> None:
    gone = DestinationGone("app answered 410", outcome="http_error", status=410, response=b"bye")
    app = App(script={"e1": [gone]})
    async with engine(tmp_path, [to(app, max_in_flight=1)]) as eng:
        await eng.publish("e1")
        await eng.until(lambda: eng.courier()["state"].get("gone", False))
        await eng.publish("e2")
        raw = await eng.store.get(state_key(NS, "app"))
        assert raw is not None
        state = msgspec.json.decode(raw, type=RouteState)
        assert state.paused
        assert "410" in state.reason
        assert "bye" in state.reason
        counts = await eng.store.counts(queue_name(NS, "app"))
        assert (counts.ready + counts.delayed + counts.leased, counts.dead) == (2, 0), (
            counts,
            app.calls,
        )
        await eng.system.actor_ref(courier_path(NS, "app")).ask(Resume(), timeout=5)
        await eng.until(lambda: eng.courier()["delivered"] == 2)
    assert app.order() == ["e1", "e1", "e2"]


async def test_events_with_one_key_go_in_order_and_a_failure_holds_only_its_key(
    tmp_path: Path,
) -> None:
    slow_retry = RetryPolicy((0.3,), jitter=0.0)
    app = App(script={"a1": [failing(500)]})
    async with engine(tmp_path, [to(app, policy=slow_retry)]) as eng:
        await eng.publish("a1", key="cus_a")
        await eng.publish("a2", key="cus_a")
        await eng.publish("b1", key="cus_b")
        await app.wait_for(lambda: app.order().count("a2") == 1)
    order = app.order()
    assert order.index("b1") < order.index("a1", 1)  # b went while a1 waited for its retry
    assert [e for e in order if e.startswith("a")] == ["a1", "a1", "a2"]


async def test_an_event_claimed_again_and_again_without_an_outcome_is_dead_lettered(
    tmp_path: Path,
) -> None:
    app = App()
    async with engine(tmp_path, [to(app)]) as eng:
        courier = eng.system.actor_ref(courier_path(NS, "app"))
        await courier.ask(Pause(), timeout=5)
        await eng.publish("e1")
        # Whatever had it died each time: its claims never settled.
        for _ in range(FAST.claim_limit):
            await eng.store.claim_many(queue_name(NS, "app"), lease_s=0.01, limit=1)
            await trio.sleep(0.02)
        await courier.ask(Resume(), timeout=5)
        await eng.until(lambda: eng.courier()["dead_lettered"] == 1)
        [dead] = (await eng.store.dead_letters(queue_name(NS, "app"))).items
    assert app.calls == []
    assert f"claimed {FAST.claim_limit + 1} times without an outcome" in (dead.last_error or "")


async def test_an_attempt_past_its_time_limit_is_a_timeout(tmp_path: Path) -> None:
    app = App(script={"e1": [trio.sleep_forever]})
    async with engine(tmp_path, [to(app, timeout_s=0.1)]) as eng:
        await eng.publish("e1")
        await eng.until(lambda: eng.courier()["delivered"] == 1)
        record = await eng.store.event(NS, "e1")
    assert [a.outcome for a in record.attempts] == ["timeout", "delivered"]


started = threading.Event()
release = threading.Event()


def blocking_handler(item: object) -> None:
    """A synchronous handler that blocks its thread until the test lets it go."""
    started.set()
    release.wait(timeout=30)  # longer than the test waits: on the loop, it would fail


async def test_a_synchronous_handler_runs_in_a_thread_and_never_blocks_the_loop(
    tmp_path: Path,
) -> None:
    started.clear()
    release.clear()
    spec = DestinationSpec(
        NS, "app", lambda refs: HandlerDestination(f"{__name__}:blocking_handler")
    )
    async with engine(tmp_path, [spec]) as eng:
        await eng.publish("e1")
        # Were the handler on the event loop, this task could never run to free it.
        with trio.fail_after(10):
            while not started.is_set():
                await trio.sleep(0.01)
        release.set()
        await eng.until(lambda: eng.courier()["delivered"] == 1)


async def test_a_rejected_item_is_dead_lettered_at_once_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    app = App(script={"e1": [AttemptRejected("no such device", status=404)]})
    async with engine(tmp_path, [to(app, policy=RetryPolicy((0.01,) * 5, jitter=0.0))]) as eng:
        await eng.publish("e1")
        await eng.publish("e2")
        await eng.until(lambda: eng.courier()["dead_lettered"] == 1)
        await eng.until(lambda: eng.courier()["delivered"] == 1)
        [dead] = (await eng.store.dead_letters(queue_name(NS, "app"))).items
        state = eng.courier()["state"]
    assert (dead.id, dead.attempts) == ("e1", 1)
    assert dead.last_error == "rejected: no such device"
    assert not state.get("paused", False)


async def test_an_item_with_its_own_id_settles_the_destination_it_names(tmp_path: Path) -> None:
    app = App()
    async with engine(tmp_path, [to(app)]) as eng:
        targets = [Delivery(f"t{n}", queue_name(NS, "app"), item_id=f"b1.{n}") for n in (0, 1)]
        await eng.store.publish(NS, "b1", "thing.happened", b"{}", targets)
        await eng.publish("unrelated")
        await eng.until(lambda: eng.courier()["delivered"] == 3)
        record = await eng.store.event(NS, "b1")
    assert record.destinations == {"t0": "delivered", "t1": "delivered"}
    assert sorted(a.destination for a in record.attempts) == ["t0", "t1"]
