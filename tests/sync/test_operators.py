"""What an operator sees and does: ``olactors sync`` against a running daemon, and a sync
on PostgreSQL, whose records the app can also query in place (jsonb)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import trio

from olactors.cli import main

from .support import (
    ADMIN_TOKEN,
    Daemon,
    FakeStripe,
    customer,
    running,
    stripe_provider,
    stripe_sync,
)


async def olactors(daemon: Daemon, tmp_path: Path, *args: str) -> int:
    config = tmp_path / "cli.toml"
    config.write_text(f'[daemon]\nstate_dir = "{tmp_path / "cli-state"}"\n')
    argv = [*args, "--config", str(config), "--admin", daemon.admin_url]
    return await trio.to_thread.run_sync(main, argv)


async def test_the_cli_runs_a_sync_shows_it_and_settles_its_conflicts(
    tmp_path: Path,
    stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLACTORS_ADMIN_TOKEN", ADMIN_TOKEN)
    syncs = {"customers": stripe_sync(conflict="manual")}
    async with running(tmp_path, syncs, stripe_provider(stripe)) as daemon:
        assert await olactors(daemon, tmp_path, "sync", "run", "customers") == 0
        run = capsys.readouterr().out.split()[1]
        assert (await daemon.finished("customers", run))["status"] == "succeeded"
        await daemon.call(
            "PUT", "/v1/sync/customers/records/cus_0001", {"data": {"id": "cus_0001"}}
        )
        stripe.change(customer(1, name="There"))
        await daemon.run("customers")
        assert await olactors(daemon, tmp_path, "sync", "list") == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[0].split()[:4] == ["SYNC", "KIND", "RUN", "STATUS"]
        assert listed[1].split()[0:2] == ["customers", "stripe"]
        assert await olactors(daemon, tmp_path, "sync", "conflicts", "customers") == 0
        assert capsys.readouterr().out.splitlines()[1].startswith("cus_0001 ")
        code = await olactors(
            daemon, tmp_path, "sync", "resolve", "customers", "cus_0001", "--take", "external"
        )
        assert (code, capsys.readouterr().out.strip()) == (0, "cus_0001 settled")
        assert await olactors(daemon, tmp_path, "sync", "show", "customers", "--json") == 0
        shown = json.loads(capsys.readouterr().out)
        records = {r["id"]: r["data"] for r in (await daemon.records("customers"))["records"]}
    assert [r["status"] for r in shown["runs"]] == ["succeeded", "succeeded"]
    assert records["cus_0001"] == customer(1, name="There")


async def test_an_unknown_sync_is_one_line_and_exit_1(
    tmp_path: Path,
    stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLACTORS_ADMIN_TOKEN", ADMIN_TOKEN)
    async with running(tmp_path, {"customers": stripe_sync()}, stripe_provider(stripe)) as d:
        assert await olactors(d, tmp_path, "sync", "run", "orders") == 1
    assert capsys.readouterr().err.strip() == "olactors sync: 404: not found: orders"


async def test_a_sync_on_postgresql_keeps_records_the_app_can_query_in_place(
    tmp_path: Path, stripe: FakeStripe, postgres_url: str
) -> None:
    syncs = {"customers": stripe_sync()}
    async with running(
        tmp_path, syncs, stripe_provider(stripe), database_url=postgres_url
    ) as daemon:
        result = await daemon.run("customers")
    assert (result["status"], result["created"]) == ("succeeded", 2)
    with psycopg.connect(postgres_url) as db:
        names = db.execute(
            "SELECT data->>'name' FROM sync_customers WHERE NOT deleted ORDER BY id"
        ).fetchall()
    assert names == [("Customer 1",), ("Customer 2",)]


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_each_run_is_counted_in_the_metrics_by_kind_and_status(
    tmp_path: Path, stripe: FakeStripe
) -> None:
    series = 'olactors_sync_runs_total{kind="full",status="succeeded",sync="customers"}'
    created = 'olactors_sync_records_total{outcome="created",sync="customers"}'
    async with running(tmp_path, {"customers": stripe_sync()}, stripe_provider(stripe)) as d:
        before = (await d.admin("GET", "/metrics")).text
        await d.run("customers")
        after = (await d.admin("GET", "/metrics")).text
    assert _sample(after, series) - _sample(before, series) == 1
    assert _sample(after, created) - _sample(before, created) == 2


async def test_a_sync_whose_database_is_down_leaves_the_daemon_up_and_answers_503(
    tmp_path: Path, stripe: FakeStripe
) -> None:
    nowhere = "postgresql://postgres@127.0.0.1:5432/olactors_no_such_database"
    syncs = {"customers": stripe_sync()}
    async with running(tmp_path, syncs, stripe_provider(stripe), database_url=nowhere) as d:
        started = await d.call("POST", "/v1/sync/customers/runs")
        records = await d.call("GET", "/v1/sync/customers/records")
        alive = await d.admin("GET", "/healthz")
    assert (started.status_code, started.json()["error"]["type"]) == (503, "unavailable")
    assert records.status_code == 503
    assert alive.status_code == 200


async def test_a_connection_the_database_dropped_is_opened_again(
    tmp_path: Path, stripe: FakeStripe, postgres_url: str
) -> None:
    syncs = {"customers": stripe_sync()}
    async with running(
        tmp_path, syncs, stripe_provider(stripe), database_url=postgres_url
    ) as daemon:
        await daemon.run("customers")
        name = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        first = await daemon.call("GET", "/v1/sync/customers/records")
        again = await daemon.call("GET", "/v1/sync/customers/records")
    assert first.status_code in (200, 503)  # the drop is found on first use
    assert (again.status_code, len(again.json()["records"])) == (200, 2)
