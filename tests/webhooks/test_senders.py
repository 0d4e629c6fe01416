"""allow_from: a source's requests are taken only from its networks, behind a proxy too."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from olactors.store import SqliteBackend
from olactors.webhooks import WebhookSource, networks
from olactors.webhooks._senders import allowed, sender
from olactors.webhooks.verifiers import StripeVerifier

from .test_ingress import SECRET, open_edge, stripe_signed

PROXIES = networks(["10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy: its claim is ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.3", "198.51.100.1"),  # leftmost is forgeable
        ("10.0.0.2", "not-an-address", None),
        ("10.0.0.2", None, "10.0.0.2"),
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),  # a dual-stack listener's peer
        ("::ffff:203.0.113.9", None, "203.0.113.9"),
    ],
)
def test_the_sender_is_the_rightmost_address_no_trusted_proxy_added(
    peer: str, forwarded: str | None, expected: str | None
) -> None:
    found = sender(peer, forwarded, PROXIES)
    assert found == (ipaddress.ip_address(expected) if expected else None)


def test_an_unknown_sender_is_allowed_only_where_anyone_is() -> None:
    assert allowed(None, ())
    assert not allowed(None, networks(["198.51.100.0/24"]))


@pytest.fixture
async def nursery() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


async def post_from(
    tmp_path: Path,
    nursery: trio.Nursery,
    allow_from: list[str],
    headers: dict[str, str] | None = None,
    proxies: list[str] | None = None,
) -> httpx.Response:
    source = WebhookSource("stripe", "stripe", StripeVerifier([SECRET]), networks(allow_from))
    edge = await open_edge(
        nursery,
        lambda role: SqliteBackend(tmp_path / "o.db", role=role),
        sources={"stripe": source},
        trusted_proxies=networks(proxies or []),
    )
    body = b'{"id":"evt_sender","type":"invoice.paid"}'
    async with httpx.AsyncClient(base_url=edge.url) as client:
        return await client.post(
            "/webhooks/stripe", content=body, headers={**stripe_signed(body), **(headers or {})}
        )


async def test_a_request_from_outside_allow_from_is_refused_403(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    answer = await post_from(tmp_path, nursery, ["198.51.100.0/24"])
    assert answer.status_code == 403
    assert answer.json()["error"] == "ForbiddenSender"


async def test_a_request_from_within_allow_from_is_stored(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    answer = await post_from(tmp_path, nursery, ["127.0.0.0/8"])
    assert answer.status_code == 200


async def test_behind_a_trusted_proxy_the_forwarded_sender_is_judged(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    answer = await post_from(tmp_path, nursery, ["198.51.100.0/24"], forwarded, ["127.0.0.1/32"])
    assert answer.status_code == 200


async def test_a_forwarded_for_header_from_an_untrusted_peer_is_not_believed(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    answer = await post_from(tmp_path, nursery, ["198.51.100.0/24"], forwarded)
    assert answer.status_code == 403
