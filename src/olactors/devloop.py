"""``olactors trigger`` and ``olactors listen``: the developer's loop, as the Stripe CLI has it.

``trigger SOURCE TYPE`` signs a realistic event of TYPE with the source's
configured secret and posts it to the running daemon's public listener, so
it goes through verification, storage and routing like a provider's.

``listen --forward-to URL`` taps a running daemon: each event it stores from
then on is posted to URL (an app on a developer's machine), signed with
Standard Webhooks headers under a secret printed at start, and the answer is
printed. It reads the admin API, so it needs no change to the configuration
and records nothing in the store: the configured routes go on as before.
"""

from __future__ import annotations

import argparse
import base64
import math
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .admin.calls import AdminError, call
from .admin.commands import admin_client
from .config import Config, ConfigError, read_secret
from .http import reach
from .signing import secret_key, sign_headers
from .webhooks import SignedEvent, signed_event

#: How often ``listen`` asks the daemon for new events.
POLL_S = 0.5


def add_dev_commands(commands: Any) -> None:
    """Register ``trigger`` and ``listen`` on the top-level ``add_subparsers()`` object."""
    trigger = commands.add_parser(
        "trigger", help="send a signed sample event of a type to the running daemon"
    )
    trigger.add_argument("source", help="a configured webhook source, e.g. stripe")
    trigger.add_argument("type", help="the event type, e.g. payment_intent.succeeded")
    trigger.add_argument("--config", type=Path, metavar="PATH", help="configuration to read")
    trigger.add_argument(
        "--url", metavar="URL", help="public listener (default: http:// + [server] public_bind)"
    )
    trigger.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="S",
        help="wait up to S seconds for the daemon to listen (default 10)",
    )
    trigger.add_argument(
        "--sendgrid-key",
        type=Path,
        metavar="PEM",
        help="a SendGrid source: the private key whose public key the source is configured with",
    )
    listen = commands.add_parser(
        "listen", help="post each event the running daemon stores to a local app"
    )
    listen.add_argument("--forward-to", required=True, metavar="URL", help="where to post")
    listen.add_argument("--source", action="append", help="only these sources (default: all)")
    listen.add_argument("--config", type=Path, metavar="PATH", help="configuration to read")
    listen.add_argument(
        "--admin", metavar="URL", help="admin listener (default: http:// + [admin] bind)"
    )
    listen.add_argument(
        "--secret-env",
        metavar="VAR",
        help="sign with the whsec_ secret in VAR (default: a new one, printed at start)",
    )


def run_trigger(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Post one signed sample event; 0 if the daemon took it (2xx), 1 otherwise."""
    try:
        config, event = _sample(args, env)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"olactors trigger: {exc}", file=sys.stderr)
        return 1
    url = f"{(args.url or reach(config.server.public_bind)).rstrip('/')}/webhooks/{args.source}"
    headers = {"content-type": "application/json", **event.headers}
    # A daemon started a moment ago may not listen yet: wait for it a little.
    deadline = time.monotonic() + args.wait
    while True:
        try:
            answer = httpx.post(url, content=event.body, headers=headers, params=event.query)
            break
        except httpx.ConnectError as exc:
            if time.monotonic() >= deadline:
                print(f"olactors trigger: {url}: {exc} (is the daemon running?)", file=sys.stderr)
                return 1
            time.sleep(0.2)
        except httpx.HTTPError as exc:
            print(f"olactors trigger: {url}: {exc}", file=sys.stderr)
            return 1
    print(f"{answer.status_code} {event.event_type} {event.event_id} -> {url}")
    print(answer.text)
    return 0 if answer.is_success else 1


def _sample(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[Config, SignedEvent]:
    config, _ = Config.discover(args.config)
    source = config.webhooks.sources.get(args.source)
    if source is None:
        known = ", ".join(config.webhooks.sources) or "none"
        raise ConfigError(f"no webhook source {args.source!r} (configured: {known})")
    where = f"webhooks.sources.{args.source}.secrets_env"
    keys = [read_secret(env, variable, where) for variable in source.secrets_env]
    key = _private_key(args.sendgrid_key) if args.sendgrid_key else None
    event = signed_event(source.kind, source, args.type, keys, time.time(), sendgrid_key=key)
    return config, event


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an ECDSA private key")  # noqa: TRY004 -- a bad argument
    return key


def run_listen(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Forward each newly stored event until interrupted; 1 if the daemon cannot be read."""
    try:
        config, _ = Config.discover(args.config)
        if args.secret_env:
            secret = read_secret(env, args.secret_env, "--secret-env")
        else:
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            print(f"signing with {secret} (give it to your app to verify with)", flush=True)
        sources = _sources(args, config)
        with admin_client(args, env) as admin, httpx.Client(timeout=10.0) as app:
            forward(admin, app, sources, args.forward_to, secret_key(secret))
    except KeyboardInterrupt:
        return 0
    except (AdminError, ConfigError, ValueError) as exc:
        print(f"olactors listen: {exc}", file=sys.stderr)
        return 1
    return 0


def forward(
    admin: httpx.Client,
    app: httpx.Client,
    sources: list[str],
    url: str,
    key: bytes,
    *,
    max_events: int | None = None,
    give_up_after_s: float | None = None,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Post each event stored from now on to ``url``; return after ``max_events``, if given.

    Events already stored when it starts are not sent: ``on_ready`` is
    called once those are known.
    """
    seen = {source: _newest_ids(admin, source) for source in sources}
    print(f"listening to {', '.join(sources)}; forwarding to {url}", flush=True)
    on_ready()
    sent = 0
    end = math.inf if give_up_after_s is None else time.monotonic() + give_up_after_s
    while (max_events is None or sent < max_events) and time.monotonic() < end:
        for source in sources:
            sent += _forward_new(admin, app, source, seen[source], url, key)
        if max_events is None or sent < max_events:
            time.sleep(POLL_S)


def _sources(args: argparse.Namespace, config: Config) -> list[str]:
    sources: list[str] = args.source or list(config.webhooks.sources)
    if not sources:
        raise ConfigError("no webhook source is configured: nothing to listen to")
    return sources


def _newest_ids(admin: httpx.Client, source: str) -> set[str]:
    page = call(admin, "GET", "/events", params={"source": source, "limit": 100})
    return {item["id"] for item in page["items"]}


#: Pages read back per poll at most (100 events each): a burst beyond this
#: between two polls is reported, not followed further.
MAX_PAGES = 50


def new_events(admin: httpx.Client, source: str, seen: set[str]) -> list[dict[str, Any]]:
    """The events stored since the last poll, newest first, paging back until one
    already seen (so a burst of more than a page between two polls is all sent)."""
    fresh: list[dict[str, Any]] = []
    params: dict[str, Any] = {"source": source, "limit": 100}
    for _ in range(MAX_PAGES):
        page = call(admin, "GET", "/events", params=params)
        new = [item for item in page["items"] if item["id"] not in seen]
        fresh += new
        if len(new) < len(page["items"]) or page.get("next_cursor") is None:
            return fresh
        params["cursor"] = page["next_cursor"]
    print(
        f"olactors listen: over {MAX_PAGES * 100} new {source} events since the last poll; "
        "forwarding the newest",
        file=sys.stderr,
    )
    return fresh


def _forward_new(
    admin: httpx.Client,
    app: httpx.Client,
    source: str,
    seen: set[str],
    url: str,
    key: bytes,
) -> int:
    fresh = new_events(admin, source, seen)
    for item in reversed(fresh):  # pages are newest first: send in arrival order
        seen.add(item["id"])
        event = call(admin, "GET", f"/events/{quote(source, safe='')}/{quote(item['id'], safe='')}")
        payload = event["payload"]
        body = (
            base64.b64decode(payload)
            if event.get("payload_encoding") == "base64"
            else payload.encode()
        )
        headers = {
            "content-type": "application/json",
            **sign_headers(key, item["id"], int(time.time()), body),
        }
        began = time.monotonic()
        try:
            answer = app.post(url, content=body, headers=headers)
            outcome = str(answer.status_code)
        except httpx.HTTPError as exc:
            outcome = f"failed ({type(exc).__name__})"
        took_ms = (time.monotonic() - began) * 1000
        now = datetime.now(UTC).isoformat(timespec="seconds")
        print(f"{now} {source} {item['type']} {item['id']} -> {outcome} ({took_ms:.0f} ms)")
        sys.stdout.flush()
    return len(fresh)
