"""``olactors sync list | run | show | conflicts | resolve``: the syncs from a shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ._printing import table
from .calls import call


def add_sync_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    syncs = commands.add_parser("sync", help="data syncs: runs, checkpoints and conflicts")
    verbs = syncs.add_subparsers(dest="action", required=True, metavar="ACTION")
    verbs.add_parser("list", parents=[common], help="every sync and its last run")
    run = verbs.add_parser("run", parents=[common], help="run a sync now")
    run.add_argument("name")
    run.add_argument("--full", action="store_true", help="every record (and deletions)")
    show = verbs.add_parser("show", parents=[common], help="a sync's checkpoint and runs")
    show.add_argument("name")
    conflicts = verbs.add_parser(
        "conflicts", parents=[common], help="conflicts waiting for a person"
    )
    conflicts.add_argument("name")
    resolve = verbs.add_parser("resolve", parents=[common], help="settle one conflict")
    resolve.add_argument("name")
    resolve.add_argument("id", help="the record's id")
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument("--take", choices=("external", "local"))
    how.add_argument("--record", type=Path, metavar="FILE", help="a JSON file: the record")


def run_sync(client: httpx.Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        listed = call(client, "GET", "/sync")
        if args.json:
            print(json.dumps(listed, indent=2))
            return 0
        rows = [_row(entry["name"], entry["source"], entry["last_run"]) for entry in listed]
        print(table(_HEADERS, rows, empty="no syncs are configured"))
        return 0
    path = f"/sync/{quote(args.name, safe='')}"
    if args.action == "run":
        started = call(
            client,
            "POST",
            f"{path}/runs",
            {"full": "true"} if args.full else None,
            ok=frozenset({202}),
        )
        print(
            json.dumps(started, indent=2)
            if args.json
            else f"run {started['id']}"
            + (" (already running)" if started["already_running"] else " started")
        )
        return 0
    if args.action == "show":
        shown = call(client, "GET", path)
        if args.json:
            print(json.dumps(shown, indent=2))
            return 0
        state = shown["state"]
        print(
            f"sync: {shown['name']} ({shown['source']}, every {shown['every']}, "
            f"conflicts: {shown['conflict']})"
        )
        print(
            f"since: {state['since'] or '-'}  fetching: {state['fetching']}"
            + (f" from {state['fetch_cursor']}" if state["fetch_cursor"] else "")
        )
        rows = [_row(shown["name"], run["kind"], run) for run in shown["runs"]]
        print(table(_HEADERS, rows, empty="runs: none yet"))
        return 0
    if args.action == "conflicts":
        waiting = call(client, "GET", f"{path}/conflicts")
        if args.json:
            print(json.dumps(waiting, indent=2))
            return 0
        rows = [
            (c["id"], c["detected_at"], json.dumps(c["local"]), json.dumps(c["external"]))
            for c in waiting["conflicts"]
        ]
        print(table(("ID", "DETECTED", "LOCAL", "EXTERNAL"), rows, empty="no conflicts wait"))
        return 0
    body: dict[str, Any] = (
        {"take": args.take} if args.take else {"record": json.loads(args.record.read_text())}
    )
    settled = call(
        client, "POST", f"{path}/conflicts/{quote(args.id, safe='')}/resolve", json_body=body
    )
    print(json.dumps(settled, indent=2) if args.json else f"{settled['id']} settled")
    return 0


_HEADERS = ("SYNC", "KIND", "RUN", "STATUS", "CREATED", "UPDATED", "DELETED", "CONFLICTS", "ENDED")


def _row(name: str, kind: str, run: dict[str, Any] | None) -> tuple[Any, ...]:
    if run is None:
        return (name, kind, "-", "never run", "-", "-", "-", "-", "-")
    return (
        name,
        kind,
        run["id"],
        run["status"],
        run["created"],
        run["updated"],
        run["deleted"],
        run["conflicts"],
        run["ended_at"] or "-",
    )
