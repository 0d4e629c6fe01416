"""``olactors storage migrations | retry``: files on the fallback, on their way home."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

import httpx

from ._printing import iso, table
from .calls import call


def add_storage_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    storage = commands.add_parser("storage", help="file storage: migrations to the primary")
    verbs = storage.add_subparsers(dest="action", required=True, metavar="ACTION")
    verbs.add_parser("migrations", parents=[common], help="files still on the fallback")
    retry = verbs.add_parser("retry", parents=[common], help="try a file's migration now")
    retry.add_argument("id", help="the file's id")


def run_storage(client: httpx.Client, args: argparse.Namespace) -> int:
    if args.action == "retry":
        path = f"/storage/migrations/{quote(args.id, safe='')}/retry"
        queued = call(client, "POST", path, ok=frozenset({202}))
        print(json.dumps(queued, indent=2) if args.json else f"{args.id} queued")
        return 0
    pending = call(client, "GET", "/storage/migrations")
    if args.json:
        print(json.dumps(pending, indent=2))
        return 0
    rows = [
        (
            r["id"],
            r["key"],
            r["provider"],
            r["size"],
            iso(r["created_at"]),
            r["migration_attempts"],
            r["migration_error"] or "",
        )
        for r in pending
    ]
    headers = ("FILE", "KEY", "ON", "SIZE", "UPLOADED", "ATTEMPTS", "LAST ERROR")
    print(table(headers, rows, empty="no file waits for a migration"))
    return 0
