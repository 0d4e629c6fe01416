"""``olactors status``, ``breakers``, ``dead-letters``, ``events``, ``routes``,
``connections`` and ``sync``: the admin listener from a shell.

Each command is one or two HTTP calls to a running daemon's admin listener,
with its bearer token from the environment variable the configuration names, or
else from the token file a daemon without one generated in its state directory.
Failures are one line on stderr and exit 1: the listener unreachable, the
token refused, an unknown id, the store down.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..config import Config, ConfigError
from ..http import reach
from ..webhooks import namespace_of
from ._printing import iso, table
from ._storage_commands import add_storage_commands, run_storage
from ._sync_commands import add_sync_commands, run_sync
from ._token import stored_token
from .calls import AdminError, call


def add_commands(commands: Any) -> None:
    """Register the admin commands on the top-level ``add_subparsers()`` object."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, metavar="PATH", help="configuration to read")
    common.add_argument(
        "--admin", metavar="URL", help="admin listener (default: http:// + [admin] bind)"
    )
    common.add_argument("--json", action="store_true", help="print the daemon's JSON answer")

    commands.add_parser(
        "status", parents=[common], help="readiness, actors not running and queue depths"
    )
    commands.add_parser(
        "processes", parents=[common], help="every daemon process on this store (replicas too)"
    )
    breakers = commands.add_parser(
        "breakers", parents=[common], help="circuit breakers by provider"
    )
    breakers.add_argument("--reset", metavar="PROVIDER", help="close PROVIDER's breaker by hand")

    letters = commands.add_parser("dead-letters", help="inspect and replay dead-lettered events")
    actions = letters.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="a queue's dead letters")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--cursor", type=int)
    for name, help_text in (
        ("show", "one dead letter, payload included"),
        ("replay", "put dead letters back in their queue"),
        ("delete", "drop one dead letter for good"),
    ):
        action = actions.add_parser(name, parents=[common], help=help_text)
        if name == "replay":
            which = action.add_mutually_exclusive_group(required=True)
            which.add_argument("id", nargs="?")
            which.add_argument("--all", action="store_true", help="every dead letter of QUEUE")
        else:
            action.add_argument("id")
    for action in (listing, *(actions.choices[n] for n in ("show", "replay", "delete"))):
        action.add_argument(
            "--queue", required=True, help="the route's queue, e.g. d:webhooks.stripe:to-app"
        )

    events = commands.add_parser("events", help="received events, their attempts, retries")
    verbs = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = verbs.add_parser("list", parents=[common], help="a source's events, newest first")
    listed.add_argument("--source", required=True, help="the webhook source, e.g. stripe")
    listed.add_argument("--status", help="pending, delivered, dead, dropped or unrouted")
    listed.add_argument("--type", help="an event type, e.g. charge.refunded")
    listed.add_argument("--route", help="only events for this route (--status is its state)")
    listed.add_argument("--limit", type=int, default=50)
    listed.add_argument("--cursor", type=int)
    for name, help_text in (
        ("show", "one event: payload, where it went, every attempt"),
        ("retry", "try every route still owed the event now"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=help_text)
        verb.add_argument("source", help="the webhook source, e.g. stripe")
        verb.add_argument("id", help="the event's id")

    routes = commands.add_parser("routes", help="delivery routes: state, pause, resume")
    steer = routes.add_subparsers(dest="action", required=True, metavar="ACTION")
    steer.add_parser("list", parents=[common], help="every route with its state")
    for name, help_text in (
        ("pause", "stop delivering; events wait in the route's queue"),
        ("resume", "deliver again (also after a 410 disabled the route)"),
        ("reset-breaker", "close the route's breaker by hand"),
    ):
        verb = steer.add_parser(name, parents=[common], help=help_text)
        verb.add_argument("source", help="the webhook source, e.g. stripe")
        verb.add_argument("route", help="the route's name")
        if name == "pause":
            verb.add_argument("--reason", help="shown with the route's state")

    connections = commands.add_parser("connections", help="OAuth connections kept in the vault")
    vault = connections.add_subparsers(dest="action", required=True, metavar="ACTION")
    vault.add_parser(
        "rekey",
        parents=[common],
        help="seal every connection again under the newest vault key (then drop the old one)",
    )
    add_sync_commands(commands, common)
    add_storage_commands(commands, common)


def run_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run one admin command; 0 on success, 1 with a line on stderr otherwise."""
    try:
        client = admin_client(args, env)
        with client:
            return _dispatch(client, args)
    except (AdminError, ConfigError) as exc:
        print(f"olactors {args.command}: {exc}", file=sys.stderr)
        return 1


def admin_client(args: argparse.Namespace, env: Mapping[str, str]) -> httpx.Client:
    config, _ = Config.discover(args.config)
    url = args.admin or reach(config.admin.bind)
    token = env.get(config.admin.token_env) or stored_token(config.daemon.state_dir) or ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=10.0)


def _dispatch(client: httpx.Client, args: argparse.Namespace) -> int:
    if args.command == "status":
        return _status(client, args.json)
    if args.command == "processes":
        return _processes(call(client, "GET", "/processes"), args.json)
    if args.command == "breakers":
        if args.reset:
            _show(call(client, "POST", f"/breakers/{args.reset}/reset"), args.json)
            return 0
        return _breakers(call(client, "GET", "/breakers"), args.json)
    if args.command == "events":
        return _events(client, args)
    if args.command == "routes":
        return _routes(client, args)
    if args.command == "connections":
        _show(call(client, "POST", "/connections/rekey"), args.json)
        return 0
    if args.command == "sync":
        return run_sync(client, args)
    if args.command == "storage":
        return run_storage(client, args)
    queue = {"queue": args.queue}
    if args.action == "list":
        params: dict[str, Any] = {**queue, "limit": args.limit}
        if args.cursor is not None:
            params["cursor"] = args.cursor
        page = call(client, "GET", "/dead-letters", params)
        return _letters(page, args.queue, args.json)
    if args.action == "replay" and args.all:
        _show(call(client, "POST", "/dead-letters/replay", queue), args.json)
        return 0
    method, suffix = {"show": ("GET", ""), "replay": ("POST", "/replay"), "delete": ("DELETE", "")}[
        args.action
    ]
    answer = call(client, method, f"/dead-letters/{args.id}{suffix}", queue)
    if args.action == "show" and not args.json:
        _letter(answer)
    else:
        _show(answer, args.json)
    return 0


def _events(client: httpx.Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        params: dict[str, Any] = {"source": args.source, "limit": args.limit}
        for key in ("status", "type", "route", "cursor"):
            if getattr(args, key) is not None:
                params[key] = getattr(args, key)
        page = call(client, "GET", "/events", params)
        if args.json:
            print(json.dumps(page, indent=2))
            return 0
        rows = [
            (
                iso(item["received_at"]),
                item["id"],
                item["type"],
                item["status"],
                " ".join(f"{k}={v}" for k, v in item["destinations"].items()),
            )
            for item in page["items"]
        ]
        columns = ("RECEIVED", "ID", "TYPE", "STATUS", "ROUTES")
        print(table(columns, rows, empty=f"no events from {args.source}"))
        if page.get("next_cursor") is not None:
            print(f"more: --cursor {page['next_cursor']}")
        return 0
    path = f"/events/{quote(args.source, safe='')}/{quote(args.id, safe='')}"
    if args.action == "retry":
        _show(call(client, "POST", f"{path}/retry"), args.json)
        return 0
    record = call(client, "GET", path)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"id: {record['id']}")
    print(f"type: {record['type']}")
    print(f"status: {record['status']}")
    print(f"received: {iso(record['received_at'])}")
    routes = [(name, state) for name, state in record["destinations"].items()]
    print(table(("ROUTE", "STATE"), routes, empty="routes: none took it"))
    attempts = [
        (
            iso(a["at"]),
            a["destination"],
            a["outcome"],
            a.get("status"),
            f"{a['latency_ms']:.0f} ms",
            a.get("error") or a.get("response") or "",
        )
        for a in record["attempts"]
    ]
    headers = ("AT", "ROUTE", "OUTCOME", "STATUS", "LATENCY", "ERROR OR ANSWER")
    print(table(headers, attempts, empty="attempts: none yet"))
    print("payload:")
    print(record["payload"])
    return 0


def _routes(client: httpx.Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        listed = call(client, "GET", "/routes")
        if args.json:
            print(json.dumps(listed, indent=2))
            return 0
        print(table(_ROUTE_HEADERS, [_route_row(r) for r in listed], empty="no routes"))
        return 0
    path = f"/routes/{namespace_of(args.source)}/{args.route}/{args.action}"
    body = {"reason": args.reason} if getattr(args, "reason", None) else None
    _show(call(client, "POST", path, json_body=body), args.json)
    return 0


def _show(body: Any, as_json: bool) -> None:
    if as_json or not isinstance(body, dict):
        print(json.dumps(body, indent=2))
    else:
        print(" ".join(f"{key}={_plain(value)}" for key, value in body.items()))


def _plain(value: Any) -> str:
    """A value as a person reads it: nested ones as JSON, never a Python repr."""
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


#: ``status``'s exit code when the daemon is ready but has something to look at.
EXIT_DEGRADED = 3


def _status(client: httpx.Client, as_json: bool) -> int:
    ready = call(client, "GET", "/readyz", ok=frozenset({200, 503}))
    code = {"ready": 0, "degraded": EXIT_DEGRADED}.get(ready["status"], 1)
    tree = call(client, "GET", "/actors")
    routes = call(client, "GET", "/routes")
    queues = call(client, "GET", "/queues", ok=frozenset({200, 503}))
    if as_json:
        answer = {"readiness": ready, "routes": routes, "queues": queues, "actors": tree}
        print(json.dumps(answer, indent=2))
        return code
    print(ready["status"])
    for problem in ready["problems"]:
        print(f"  problem: {problem}")
    for warning in ready["warnings"]:
        print(f"  warning: {warning}")
    print()
    print(table(_ROUTE_HEADERS, [_route_row(r) for r in routes], empty="no routes"))
    print()
    if "error" in queues:
        print(f"queues: {queues['error']}")
    else:
        rows = [
            (name, c["ready"], c["leased"], c["delayed"], c.get("held", 0), c["dead"])
            for name, c in sorted(queues.items())
        ]
        headers = ("QUEUE", "READY", "LEASED", "DELAYED", "HELD", "DEAD")
        print(table(headers, rows, empty="no queues hold items"))
    print()
    print(table(_ACTOR_HEADERS, _tree_rows(tree), empty="no actors"))
    return code


_ROUTE_HEADERS = (
    "ROUTE",
    "STATE",
    "SINCE",
    "BREAKER",
    "IN FLIGHT",
    "DELIVERED",
    "DEAD",
    "LAST ERROR",
)
_ACTOR_HEADERS = ("ACTOR", "STATUS", "RESTARTS", "MAILBOX", "MSG/S", "LAST ERROR")


def _route_row(route: dict[str, Any]) -> tuple[object, ...]:
    state = route["state"]
    if state.get("gone"):
        shown = "disabled (410)"
    elif state.get("paused"):
        shown = f"paused ({state['reason']})" if state.get("reason") else "paused"
    else:
        shown = "running"
    return (
        f"{route['namespace']}/{route['destination']}",
        shown,
        iso(state.get("since")) if state.get("since") else "-",
        route["breaker"],
        route["in_flight"],
        route["delivered"],
        route["dead_lettered"],
        route.get("last_error") or "",
    )


def _tree_rows(node: dict[str, Any]) -> list[tuple[str, ...]]:
    """The snapshot tree as table rows, depth first, as ``GET /actors`` gives it."""
    error = node.get("last_error")
    supervisor = "children" in node
    rows: list[tuple[str, ...]] = [
        (
            node["path"],
            node["status"],
            str(node["restarts_total"]),
            "" if supervisor else f"{node['mailbox_depth']}/{node['mailbox_capacity']}",
            "" if supervisor else f"{node['rate_per_s']:.1f}",
            f"{error['type']}: {error['message']}" if error else "",
        )
    ]
    for child in node.get("children", []):
        rows += _tree_rows(child)
    return rows


def _processes(answer: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(answer, indent=2))
        return 0
    rows = [
        (
            record["id"],
            "-" if record["index"] is None else f"{record['index']}/{record['count']}",
            record["parent"] or "-",
            record["restarts"] if record["restarts"] is not None else "-",
            iso(record["started_at"]),
            iso(record["seen_at"]),
        )
        for record in answer["processes"]
    ]
    headers = ("PROCESS", "PLACE", "PARENT", "RESTARTS", "STARTED", "SEEN")
    print(table(headers, rows, empty="no process has written its record"))
    return 0


def _breakers(states: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(states, indent=2))
        return 0
    rows = [
        (
            provider,
            state["state"],
            f"{state['open_for_s']:g} s" if state.get("open_for_s") else "-",
            state["trips"],
            f"{state['window_failures']}/{state['window_calls']}",
        )
        for provider, state in sorted(states.items())
    ]
    headers = ("PROVIDER", "STATE", "OPEN FOR", "TRIPS", "FAILED/CALLS")
    print(table(headers, rows, empty="no providers"))
    return 0


def _letters(page: dict[str, Any], queue: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [
        (iso(item.get("dead_at")), item["id"], item.get("attempts"), item.get("last_error") or "")
        for item in page["items"]
    ]
    headers = ("DEAD SINCE", "ID", "ATTEMPTS", "LAST ERROR")
    print(table(headers, rows, empty=f"no dead letters in {queue}"))
    if page.get("next_cursor") is not None:
        print(f"more: --cursor {page['next_cursor']}")
    return 0


def _letter(item: dict[str, Any]) -> None:
    for key, value in item.items():
        if key in ("enqueued_at", "dead_at"):
            print(f"{key.removesuffix('_at')}: {iso(value)}")
        elif key != "payload":
            print(f"{key}: {_plain(value)}")
    print("payload:")
    print(item["payload"])
