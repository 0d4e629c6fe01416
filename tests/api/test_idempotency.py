"""Idempotency-Key's rules, on a real store: kept answers, the lock, and errors not kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from quart import Response

from olactors.api._idempotency import LOCK_S, Idempotency, InProgress
from olactors.runtime import ActorSystem, SupervisorSpec
from olactors.store import SqliteBackend, Store, store_spec


@pytest.fixture
async def once(tmp_path: Path) -> AsyncIterator[Idempotency]:
    spec = SupervisorSpec(
        "root",
        children=[store_spec(lambda role: SqliteBackend(tmp_path / "o.db", role=role))],
    )
    system = ActorSystem(spec)
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        yield Idempotency(Store.at(system, "/root/store"), ttl_s=60)
        system.shutdown()


def answering(status: int, calls: list[int]) -> object:
    async def run() -> Response:
        calls.append(status)
        return Response(b'{"n": %d}' % len(calls), status=status, content_type="application/json")

    return run


async def test_a_request_that_raised_frees_its_key_for_the_retry(once: Idempotency) -> None:
    async def fails() -> Response:
        raise RuntimeError("the store went away mid-operation")

    with pytest.raises(RuntimeError):
        await once.once("key_a", "k1", b"POST /v1/x\n{}", fails)
    calls: list[int] = []
    answer = await once.once("key_a", "k1", b"POST /v1/x\n{}", answering(201, calls))  # type: ignore[arg-type]
    assert (answer.status_code, calls) == (201, [201])


async def test_an_error_answer_is_not_kept_and_the_retry_runs_again(once: Idempotency) -> None:
    calls: list[int] = []
    await once.once("key_a", "k2", b"POST /v1/x\n{}", answering(409, calls))  # type: ignore[arg-type]
    await once.once("key_a", "k2", b"POST /v1/x\n{}", answering(201, calls))  # type: ignore[arg-type]
    assert calls == [409, 201]


async def test_a_retry_while_the_first_still_runs_is_told_to_wait(once: Idempotency) -> None:
    release = trio.Event()
    started = trio.Event()

    async def slow() -> Response:
        started.set()
        await release.wait()
        return Response(b"{}", status=201, content_type="application/json")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(once.once, "key_a", "k3", b"POST /v1/x\n{}", slow)
        await started.wait()
        with pytest.raises(InProgress) as caught:
            await once.once("key_a", "k3", b"POST /v1/x\n{}", slow)
        assert caught.value.retry_after_s == LOCK_S
        release.set()
    calls: list[int] = []
    replayed = await once.once("key_a", "k3", b"POST /v1/x\n{}", answering(201, calls))  # type: ignore[arg-type]
    assert replayed.headers["idempotent-replayed"] == "true"
    assert calls == []


async def test_a_request_running_longer_than_its_hold_keeps_its_key(tmp_path: Path) -> None:
    spec = SupervisorSpec(
        "root",
        children=[store_spec(lambda role: SqliteBackend(tmp_path / "o.db", role=role))],
    )
    system = ActorSystem(spec)
    hold_s = 1.2
    once = Idempotency(Store.at(system, "/root/store"), ttl_s=60, lock_s=hold_s)
    started = trio.Event()

    async def slow() -> Response:
        started.set()
        await trio.sleep(2.5 * hold_s)  # renewed every hold_s / 3 meanwhile
        return Response(b"{}", status=201, content_type="application/json")

    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        async with trio.open_nursery() as calls:
            calls.start_soon(once.once, "key_a", "k4", b"POST /v1/x\n{}", slow)
            await started.wait()
            await trio.sleep(2 * hold_s)
            with pytest.raises(InProgress):
                await once.once("key_a", "k4", b"POST /v1/x\n{}", slow)
        system.shutdown()
