"""The app's side of a sync: its own writes, conflicts waiting for a person and settled
through the app API, and clear errors for what is asked wrongly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .support import (
    Daemon,
    FakeStripe,
    customer,
    running,
    stripe_provider,
    stripe_sync,
)


@pytest.fixture
async def daemon(tmp_path: Path, stripe: FakeStripe) -> AsyncIterator[Daemon]:
    syncs = {"customers": stripe_sync(conflict="manual")}
    async with running(tmp_path, syncs, stripe_provider(stripe)) as d:
        await d.run("customers")
        yield d


async def test_the_app_s_write_is_read_back_and_kept_by_the_next_run(daemon: Daemon) -> None:
    mine = {**customer(1), "name": "Edited here"}
    put = await daemon.call("PUT", "/v1/sync/customers/records/cus_0001", {"data": mine})
    assert (put.status_code, put.json()["data"]) == (200, mine)
    result = await daemon.run("customers")
    assert result["conflicts"] == 0
    records = {r["id"]: r["data"] for r in (await daemon.records("customers"))["records"]}
    assert records["cus_0001"] == mine


async def test_a_record_changed_on_both_sides_waits_for_a_person_with_both_versions(
    daemon: Daemon, stripe: FakeStripe
) -> None:
    mine = {**customer(1), "name": "Edited here"}
    await daemon.call("PUT", "/v1/sync/customers/records/cus_0001", {"data": mine})
    stripe.change(customer(1, email="there@example.com"))
    result = await daemon.run("customers")
    waiting = (await daemon.call("GET", "/v1/sync/customers/conflicts")).json()["conflicts"]
    assert result["conflicts"] == 1
    assert [(c["id"], c["local"], c["external"], c["base"]) for c in waiting] == [
        ("cus_0001", mine, customer(1, email="there@example.com"), customer(1))
    ]


async def test_settling_a_conflict_with_an_edit_keeps_the_edit(
    daemon: Daemon, stripe: FakeStripe
) -> None:
    await daemon.call(
        "PUT", "/v1/sync/customers/records/cus_0001", {"data": {**customer(1), "name": "Here"}}
    )
    stripe.change(customer(1, email="there@example.com"))
    await daemon.run("customers")
    both = {**customer(1, email="there@example.com"), "name": "Here"}
    settled = await daemon.call(
        "POST", "/v1/sync/customers/conflicts/cus_0001/resolve", {"record": both}
    )
    assert (settled.status_code, settled.json()["data"]) == (200, both)
    assert (await daemon.call("GET", "/v1/sync/customers/conflicts")).json()["conflicts"] == []


async def test_a_local_delete_is_a_tombstone_the_cursor_shows(daemon: Daemon) -> None:
    cursor = (await daemon.records("customers"))["next_cursor"]
    gone = await daemon.call("DELETE", "/v1/sync/customers/records/cus_0002")
    assert (gone.status_code, gone.json()["deleted"]) == (200, True)
    since = (await daemon.records("customers", cursor))["records"]
    assert [(r["id"], r["deleted"]) for r in since] == [("cus_0002", True)]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("GET", "/v1/sync/orders/records", None, 404, "not_found"),
        ("GET", "/v1/sync/customers/records?cursor=not-ours", None, 400, "invalid_request"),
        ("GET", "/v1/sync/customers/runs/run_nope", None, 404, "not_found"),
        ("PUT", "/v1/sync/customers/records/cus_1", {"data": [1, 2]}, 422, "validation_error"),
        ("DELETE", "/v1/sync/customers/records/cus_nope", None, 404, "not_found"),
        (
            "POST",
            "/v1/sync/customers/conflicts/cus_0001/resolve",
            {"take": "external"},
            404,
            "not_found",
        ),
        ("POST", "/v1/sync/customers/conflicts/cus_0001/resolve", {}, 400, "invalid_request"),
        (
            "GET",
            "/v1/sync/customers/records?cursor=WzkyMjMzNzIwMzY4NTQ3NzU4MDgsIiJd",  # seq 2**63
            None,
            400,
            "invalid_request",
        ),
        (
            "PUT",
            "/v1/sync/customers/records/cus_1",
            {"data": {"name": "a\u0000b"}},
            422,
            "validation_error",
        ),
    ],
)
async def test_what_is_asked_wrongly_gets_a_typed_error(
    daemon: Daemon, method: str, path: str, body: object, status: int, kind: str
) -> None:
    answer = await daemon.call(method, path, body)
    assert (answer.status_code, answer.json()["error"]["type"]) == (status, kind)
