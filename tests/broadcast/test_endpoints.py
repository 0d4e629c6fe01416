"""/v1/endpoints: registration behind the SSRF guard, secrets, rotation, disable, 410, paging."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from olactors.broadcast import guarded_transport, is_public
from olactors.testing import Canned, FakeProvider
from olactors.webhooks.verifiers.standard import StandardVerifier

from .support import FAST, Daemon, broadcast, call, endpoint, run_daemon, settled


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with run_daemon(tmp_path, allow_private_endpoints=True, **FAST) as running:
        yield running


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "fd00:ec2::254",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2002:a00:1::1",
        "::ffff:0:a00:1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
        "fec0::1",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "64:ff9b::5db8:d70e"])
def test_a_public_address_is_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


async def test_a_host_name_idna_refuses_is_a_422_not_a_500(tmp_path: Path) -> None:
    async with run_daemon(tmp_path) as daemon:
        answer = await call(daemon, "POST", "/v1/endpoints", {"url": f"http://{'a' * 64}.com/x"})
    assert answer.status_code == 422


async def test_an_endpoint_on_a_loopback_name_is_refused_at_registration(tmp_path: Path) -> None:
    async with run_daemon(tmp_path) as daemon:
        answer = await call(daemon, "POST", "/v1/endpoints", {"url": "http://localhost:8080/x"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["at"] == "$.url"
    assert "non-public" in answer.text


async def test_a_name_that_resolves_inside_at_connect_time_is_not_connected_to(
    receiver: FakeProvider,
) -> None:
    # What DNS rebinding comes to: the name checked at registration now
    # resolves to loopback. The guard checks the address it connects to.
    url = receiver.url.replace("127.0.0.1", "localhost")
    async with httpx.AsyncClient(transport=guarded_transport(1)) as client:
        with pytest.raises(httpx.ConnectError, match="non-public"):
            await client.get(url)
    assert receiver.requests == []


async def test_the_secret_is_shown_when_created_and_never_again(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    assert created["secret"].startswith("whsec_")
    shown = (await call(daemon, "GET", f"/v1/endpoints/{created['id']}")).json()
    assert "secret" not in shown
    assert shown["url"] == f"{receiver.url}/hooks"


async def test_after_a_rotation_both_secrets_sign_each_message(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    rotated = await call(daemon, "POST", f"/v1/endpoints/{created['id']}/secret/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != created["secret"]
    await settled(
        daemon, await broadcast(daemon, {"channel": "webhook", "endpoint": created["id"]})
    )
    [seen] = receiver.seen("/hooks")
    for secret in (created["secret"], new):
        StandardVerifier([secret]).verify(seen.headers, {}, seen.body, time.time())


async def test_a_disabled_endpoint_keeps_its_messages_until_it_is_enabled(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    disabled = await call(daemon, "POST", f"/v1/endpoints/{created['id']}/disable")
    assert disabled.json()["disabled"] is True
    bid = await broadcast(daemon, {"channel": "webhook", "endpoint": created["id"]})
    waiting = (await call(daemon, "GET", f"/v1/broadcasts/{bid}?wait=0.3")).json()
    assert waiting["pending"] == 1
    assert receiver.seen("/hooks") == []
    await call(daemon, "POST", f"/v1/endpoints/{created['id']}/enable")
    assert (await settled(daemon, bid))["successful"] == 1


async def test_an_endpoint_answering_410_is_disabled_and_says_why(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    receiver.route("/gone", Canned(410, body=b"customer left"))
    created = await endpoint(daemon, f"{receiver.url}/gone")
    await broadcast(daemon, {"channel": "webhook", "endpoint": created["id"]})
    with trio.fail_after(10):  # a hang guard
        while not (shown := (await call(daemon, "GET", f"/v1/endpoints/{created['id']}")).json())[
            "disabled"
        ]:
            await trio.sleep(0.02)
    assert "410" in shown["disabled_reason"]


async def test_endpoints_are_listed_a_page_at_a_time(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    ids = sorted([(await endpoint(daemon, f"{receiver.url}/{n}"))["id"] for n in range(5)])
    first = (await call(daemon, "GET", "/v1/endpoints?limit=3")).json()
    assert [e["id"] for e in first["items"]] == ids[:3]
    rest = (
        await call(daemon, "GET", f"/v1/endpoints?limit=3&cursor={first['next_cursor']}")
    ).json()
    assert [e["id"] for e in rest["items"]] == ids[3:]
    assert rest["next_cursor"] is None


async def test_a_deleted_endpoint_is_gone(daemon: Daemon, receiver: FakeProvider) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    assert (await call(daemon, "DELETE", f"/v1/endpoints/{created['id']}")).status_code == 200
    assert (await call(daemon, "GET", f"/v1/endpoints/{created['id']}")).status_code == 404


async def test_an_endpoint_changed_to_an_inside_address_is_refused(tmp_path: Path) -> None:
    async with run_daemon(tmp_path) as daemon:
        answer = await call(
            daemon, "PATCH", "/v1/endpoints/ep_abc", {"url": "http://169.254.169.254/latest"}
        )
    assert answer.status_code == 422


async def test_a_target_of_an_endpoint_deleted_before_delivery_settles_as_failed(
    daemon: Daemon, receiver: FakeProvider
) -> None:
    created = await endpoint(daemon, f"{receiver.url}/hooks")
    await call(daemon, "POST", f"/v1/endpoints/{created['id']}/disable")
    bid = await broadcast(daemon, {"channel": "webhook", "endpoint": created["id"]})
    await call(daemon, "DELETE", f"/v1/endpoints/{created['id']}")
    result = await settled(daemon, bid)
    assert result["failed"] == 1
    assert "deleted" in result["details"][0]["last_error"]
    assert receiver.seen("/hooks") == []


async def test_a_fan_out_skips_a_disabled_endpoint(daemon: Daemon, receiver: FakeProvider) -> None:
    off = await endpoint(daemon, f"{receiver.url}/off")
    await endpoint(daemon, f"{receiver.url}/on")
    await call(daemon, "POST", f"/v1/endpoints/{off['id']}/disable")
    result = await settled(daemon, await broadcast(daemon, {"channel": "webhook"}))
    assert result["successful"] == 1
    assert [r.path for r in receiver.requests] == ["/on"]
