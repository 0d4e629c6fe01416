"""The ``olactors`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import trio

from . import logs
from .config import DEFAULT_CONFIG_PATH, Config, ConfigError
from .daemon import run_daemon

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
        help=f"TOML configuration (default: {DEFAULT_CONFIG_PATH} if present, else built-in)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args.config)
    raise AssertionError(f"unhandled command {args.command}")  # argparse allows no other


def _run(path: Path | None) -> int:
    try:
        config, source = Config.discover(path)
    except ConfigError as exc:
        print(f"olactors: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(config.log.level)
    log.info("configuration: %s", source)
    try:
        return trio.run(run_daemon, config)
    except ConfigError as exc:
        print(f"olactors: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
