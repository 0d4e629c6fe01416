"""The ``olactors`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import trio

from . import logs
from .admin.commands import add_commands, run_command
from .config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    EMBEDDED_DEFAULTS,
    SYSTEM_CONFIG_PATH,
    Config,
    ConfigError,
    describe_missing,
    missing_secrets,
    named_secrets,
    process_count,
)
from .daemon import EXIT_FAILED, STOP_SIGNALS, run_daemon
from .devloop import add_dev_commands, run_listen, run_trigger
from .http import BindFailed, served_address
from .processes import Handover, ProcessParent, bind_listeners
from .store import redacted
from .tree import build_tree

EXIT_USAGE = 2

log = logging.getLogger("olactors.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="olactors",
        description=(
            "Integration daemon: receives provider webhooks, calls provider APIs, "
            "and never loses an event it has acknowledged."
        ),
    )
    parser.add_argument("--version", action="version", version=f"olactors {version('olactors')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="start the daemon and run until SIGINT or SIGTERM")
    run.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=(
            f"TOML configuration (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG_PATH}, "
            f"else {SYSTEM_CONFIG_PATH}, else built-in)"
        ),
    )
    run.add_argument(
        "--processes",
        type=_processes,
        metavar="N|auto",
        help="daemon processes sharing the listeners (default: [server] processes)",
    )
    check = commands.add_parser(
        "check-config",
        help="validate a configuration; say what it binds and which secrets are missing",
    )
    check.add_argument("path", nargs="?", type=Path, metavar="PATH")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    add_commands(commands)
    add_dev_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # Piped into `head`, which stopped reading: what it wanted was printed.
        # Point stdout at /dev/null so the interpreter's last flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args.config, args.processes)
    if args.command == "check-config":
        return check_config(args.path, os.environ, as_json=args.json)
    if args.command == "trigger":
        return run_trigger(args, os.environ)
    if args.command == "listen":
        return run_listen(args, os.environ)
    admin = (
        "status",
        "processes",
        "breakers",
        "dead-letters",
        "events",
        "routes",
        "connections",
        "sync",
        "storage",
    )
    if args.command in admin:
        return run_command(args, os.environ)
    raise AssertionError(f"unhandled command {args.command}")  # argparse allows no other


def check_config(path: Path | None, env: Mapping[str, str], *, as_json: bool = False) -> int:
    """Print what the configuration binds and needs; 1 if the daemon could not start with it."""
    report = _check(path, env)
    if as_json:
        print(json.dumps({k: v for k, v in report.items() if k != "lines"}, indent=2))
    else:
        for line in report["lines"]:
            print(line)
        if report["error"]:
            print(f"error: {report['error']}", file=sys.stderr)
        else:
            print("ok: the daemon can start with this configuration")
    return 0 if report["error"] is None else 1


def _check(path: Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    """What check-config reports: readable lines, the same facts as fields, and the error."""
    try:
        config, source = Config.discover(path)
    except ConfigError as exc:
        return {"configuration": None, "lines": [], "error": str(exc)}
    store = config.store
    secrets = [
        {
            "variable": s.variable,
            "for": s.what,
            "named_by": s.where,
            "required": s.required,
            "set": bool(env.get(s.variable)),
        }
        for s in named_secrets(config)
    ]
    report: dict[str, Any] = {
        "configuration": source,
        "public_listener": config.server.public_bind,
        "admin_listener": config.admin.bind,
        "api_listener": config.api.bind,
        "state_dir": str(config.daemon.state_dir),
        "store": {
            "backend": store.backend,
            "at": str(store.sqlite_path)
            if store.backend == "sqlite"
            else redacted(store.redis_url),
        },
        "sources": {
            name: {"kind": src.kind, "path": f"/webhooks/{name}"}
            for name, src in config.webhooks.sources.items()
        },
        "routes": [
            {
                "source": route.source,
                "events": route.events,
                "to": route.forward_to or route.handler,
            }
            for route in config.webhooks.routes
        ],
        "secrets": secrets,
        "error": None,
    }
    lines = [f"configuration: {source}", *_where(config)]
    for name, src in config.webhooks.sources.items():
        lines.append(
            f"webhook source: POST /webhooks/{name} ({src.kind}, concurrency {src.concurrency})"
        )
    for route in report["routes"]:
        lines.append(f"route: {route['source']} {', '.join(route['events'])} -> {route['to']}")
    for secret in secrets:
        if not secret["set"]:
            state = "missing" if secret["required"] else "not set"
            lines.append(f"{state}: {secret['variable']} ({secret['for']})")
    report["lines"] = lines
    missing = missing_secrets(config, env)
    if missing:
        report["error"] = describe_missing(missing)
        return report
    try:
        build_tree(config, env)
    except (ConfigError, ValueError) as exc:
        report["error"] = str(exc)
    return report


def _processes(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number or auto") from None
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


def _run(path: Path | None, processes: int | str | None) -> int:
    try:
        config, source = Config.discover(path)
        handover = Handover.from_env(os.environ)
    except ConfigError as exc:
        print(f"olactors: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(config.log.level, config.log.format)
    count = process_count(processes) if processes is not None else config.server.process_count()
    if handover is None:
        log.info("configuration: %s", source)
        for line in _where(config):
            log.info("%s", line)
    missing = missing_secrets(config, os.environ)
    if missing:
        print(f"olactors: configuration error: {describe_missing(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if handover is None and count > 1:
            return _run_parent(config, source, count)
        return trio.run(run_daemon, config)
    except ConfigError as exc:
        print(f"olactors: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run_parent(config: Config, source: str, count: int) -> int:
    """``count`` daemon processes on the listeners' sockets, bound here once."""
    try:
        # Refuses what each child would refuse (a listener exposed without
        # its token, say) before anything is bound or started.
        build_tree(config, os.environ)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        sockets = bind_listeners(config)
    except BindFailed as exc:
        log.critical("olactors could not start: %s", exc)
        return EXIT_FAILED
    for name, sock in sockets.items():
        log.info("%s socket %s shared by %d processes", name, served_address(sock), count)
    if not config.store.shared:
        log.warning(
            "%d processes on sqlite: a websocket subscriber hears the broadcasts its own "
            "process delivers, not its siblings'; for websocket fan-out across processes "
            'use [store] backend = "redis"',
            count,
        )
    command = [sys.executable, "-m", "olactors", "run"]
    if source != EMBEDDED_DEFAULTS:
        command += ["--config", source]

    async def parent() -> int:
        with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
            return await ProcessParent(command, count, sockets, os.environ).run(signals)

    try:
        return trio.run(parent)
    finally:
        for sock in sockets.values():
            sock.close()


def _where(config: Config) -> list[str]:
    """Where the daemon listens and keeps its state, paths made absolute."""
    store = config.store
    where = store.sqlite_path if store.backend == "sqlite" else redacted(store.redis_url)
    return [
        f"public listener: {config.server.public_bind}",
        f"admin listener: {config.admin.bind}",
        f"app API listener: {config.api.bind}",
        f"state directory: {config.daemon.state_dir}",
        f"store: {store.backend} ({where})",
    ]
