"""Syncs run in the daemon: Stripe customers into the local database, read by the app
through a changes cursor, kept in step by incremental runs, and resumed after a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import trio

from .support import (
    Daemon,
    FakeStripe,
    customer,
    running,
    stripe_provider,
    stripe_sync,
)

#: How many customers the fake Stripe starts with (the stripe fixture).
STRIPE_CUSTOMERS = 5


@pytest.fixture
async def daemon(tmp_path: Path, stripe: FakeStripe) -> AsyncIterator[Daemon]:
    async with running(tmp_path, {"customers": stripe_sync()}, stripe_provider(stripe)) as d:
        yield d


async def test_a_run_the_app_starts_fills_the_records_it_reads(daemon: Daemon) -> None:
    result = await daemon.run("customers")
    assert result["status"] == "succeeded"
    assert (result["created"], result["fetched"], result["kind"]) == (5, 5, "full")
    page = await daemon.records("customers")
    assert [r["id"] for r in page["records"]] == [f"cus_{n:04d}" for n in range(1, 6)]
    assert page["records"][0]["data"] == customer(1)


async def test_the_cursor_gives_only_what_changed_since(daemon: Daemon, stripe: FakeStripe) -> None:
    await daemon.run("customers")
    cursor = (await daemon.records("customers"))["next_cursor"]
    stripe.change(customer(3, name="Renamed"))
    stripe.change(customer(9))
    await daemon.run("customers")
    since = await daemon.records("customers", cursor)
    assert [(r["id"], r["data"]["name"]) for r in since["records"]] == [
        ("cus_0003", "Renamed"),
        ("cus_0009", "Customer 9"),
    ]
    assert (await daemon.records("customers", since["next_cursor"]))["records"] == []


async def test_a_run_after_the_first_asks_stripe_only_for_events_since(
    daemon: Daemon, stripe: FakeStripe
) -> None:
    await daemon.run("customers")
    listed = len(stripe.server.seen("/v1/customers"))
    stripe.change(customer(2, email="new@example.com"))
    result = await daemon.run("customers")
    assert (result["kind"], result["updated"], result["fetched"]) == ("incremental", 1, 1)
    assert len(stripe.server.seen("/v1/customers")) == listed
    (events,) = stripe.server.seen("/v1/events")
    assert dict(parse_qsl(events.query))["type"] == "customer.*"


async def test_a_customer_deleted_at_stripe_is_deleted_here_where_allowed(
    tmp_path: Path, stripe: FakeStripe
) -> None:
    syncs = {"customers": stripe_sync(allow_deletions=True)}
    async with running(tmp_path, syncs, stripe_provider(stripe)) as daemon:
        await daemon.run("customers")
        stripe.change({"id": "cus_0004", "object": "customer", "deleted": True}, "customer.deleted")
        result = await daemon.run("customers")
        records = {r["id"]: r["deleted"] for r in (await daemon.records("customers"))["records"]}
    assert result["deleted"] == 1
    assert records["cus_0004"] is True


async def test_a_fetch_cut_short_goes_on_from_its_last_page_after_a_restart(
    tmp_path: Path, stripe: FakeStripe
) -> None:
    stripe.fail_after = 1  # the first page, then 500s
    async with running(tmp_path, {"customers": stripe_sync()}, stripe_provider(stripe)) as d:
        failed = await d.run("customers")
        first = failed["id"]
        assert (failed["status"], failed["errors"]) == ("failed", 1)
        assert (await d.records("customers"))["records"] == []  # nothing applied
    stripe.fail_after = None
    asked = len(stripe.server.seen("/v1/customers"))
    async with running(tmp_path, {"customers": stripe_sync()}, stripe_provider(stripe)) as d:
        # Taken up again when its actor starts, from the checkpoint: a run of its own.
        with trio.fail_after(20):
            while (runs := (await d.admin("GET", "/sync/customers")).json()["runs"])[0][
                "id"
            ] == first:
                await trio.sleep(0.02)
        result = await d.finished("customers", runs[0]["id"])
        records = (await d.records("customers"))["records"]
    assert (result["status"], result["created"], result["fetched"]) == ("succeeded", 5, 5)
    assert len(records) == 5
    again = [dict(parse_qsl(s.query)) for s in stripe.server.seen("/v1/customers")[asked:]]
    assert "starting_after" in again[0]  # the first page was not fetched again


async def test_a_run_asked_for_while_one_goes_answers_with_the_running_one(
    daemon: Daemon, stripe: FakeStripe
) -> None:
    stripe.delay_s = 3.0  # the first run is still fetching when the second is asked for
    stripe.customers = {"cus_0001": customer(1)}  # one page
    first = (await daemon.call("POST", "/v1/sync/customers/runs")).json()
    second = (await daemon.call("POST", "/v1/sync/customers/runs")).json()
    await daemon.finished("customers", first["id"])
    assert second == {"id": first["id"], "already_running": True}
    assert len(stripe.server.seen("/v1/customers")) == 1  # one run's page


async def test_an_idempotent_full_run_request_starts_a_full_run(daemon: Daemon) -> None:
    await daemon.run("customers")
    started = await daemon.call(
        "POST", "/v1/sync/customers/runs?full=true", headers={"idempotency-key": "full-1"}
    )
    result = await daemon.finished("customers", started.json()["id"])
    assert (result["kind"], result["unchanged"]) == ("full", 5)


async def test_events_about_other_objects_under_the_same_prefix_are_left_out(
    daemon: Daemon, stripe: FakeStripe
) -> None:
    await daemon.run("customers")
    discount = {"id": "di_1", "object": "discount", "customer": "cus_0001"}
    stripe.change(discount, "customer.discount.created")  # customer.* names it too
    result = await daemon.run("customers")
    ids = {r["id"] for r in (await daemon.records("customers"))["records"]}
    assert (result["created"], result["fetched"]) == (0, 0)
    assert "di_1" not in ids
