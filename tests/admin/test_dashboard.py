"""The live dashboard over real HTTP: the page, its cookie login, the event stream."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import trio

from olactors.config import Config
from olactors.runtime import ActorSystem
from olactors.tree import build_tree

from .daemon import TOKEN, Daemon, config


async def test_the_page_answers_without_a_token_and_holds_no_data(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'new EventSource("stream")' in page.text
    assert "/root/" not in page.text


async def test_a_wrong_token_gets_no_session(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        answer = await client.post("/session", json={"token": "wrong"})
    assert (answer.status_code, answer.json()) == (401, {"error": "wrong admin token"})
    assert "set-cookie" not in answer.headers


async def test_a_login_without_a_token_field_is_a_400(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        answer = await client.post("/session", content=b"not json")
    assert answer.status_code == 400


async def test_the_session_cookie_is_httponly_strict_and_not_the_token(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        answer = await client.post("/session", json={"token": TOKEN})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie


async def test_the_session_cookie_alone_opens_the_admin_api(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        assert (await client.get("/session")).status_code == 401
        await client.post("/session", json={"token": TOKEN})
        assert (await client.get("/session")).status_code == 200
        assert (await client.get("/breakers")).status_code == 200


async def test_a_forged_session_cookie_is_refused(daemon: Daemon) -> None:
    cookies = {"olactors_admin": "0" * 64}
    async with httpx.AsyncClient(base_url=daemon.url, cookies=cookies) as client:
        assert (await client.get("/actors")).status_code == 401


async def test_the_event_stream_needs_authentication(daemon: Daemon) -> None:
    async with httpx.AsyncClient(base_url=daemon.url) as client:
        assert (await client.get("/stream")).status_code == 401


async def open_events(url: str) -> trio.SocketStream:
    """A raw socket with ``GET /stream`` sent: httpx's line iterators would be
    left unclosed in the middle of an endless stream."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    request = f"GET /stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    await stream.send_all(request.encode())
    return stream


async def first_event(url: str) -> tuple[bytes, bytes]:
    """The response head, and the body up to the end of the first event."""
    received = b""
    async with await open_events(url) as stream:
        with trio.fail_after(10):
            while chunk := await stream.receive_some():
                received += chunk
                head, blank_line, rest = received.partition(b"\r\n\r\n")
                if blank_line and b"\n\n" in rest:
                    return head, rest
    raise AssertionError(f"the stream ended before an event: {received!r}")


async def test_the_event_stream_sends_health_endpoints_providers_and_actors(
    daemon: Daemon,
) -> None:
    head, body = await first_event(daemon.url)
    assert b"content-type: text/event-stream" in head.lower()
    # Chunked transfer: the event is the chunk's payload.
    event = body[body.index(b"event: state") :].split(b"\n\n", 1)[0]
    name, data = event.split(b"\n", 1)
    assert name == b"event: state"
    state = json.loads(data.removeprefix(b"data: "))
    paths = {actor["path"]: actor for actor in state["actors"]}
    assert paths["/root/store"]["status"] == "running"
    assert "/root/http/admin" in paths
    assert {p["name"]: p["state"] for p in state["providers"]} == dict.fromkeys(
        Config().providers, "closed"
    )
    assert state["health"] == {"status": "ready", "problems": [], "warnings": []}
    assert state["routes"] == []  # this daemon has no webhook routes
    assert state["store_error"] is None


async def test_an_open_stream_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    system = ActorSystem(build_tree(config(tmp_path), {"ADMIN_TOKEN": TOKEN}))
    with trio.fail_after(30):  # a hang guard, not a timing assertion
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run)
            url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
            stream = await open_events(url)
            await stream.receive_some()  # the stream is open
            system.shutdown()
        # run() has returned: the whole tree stopped with the stream still open.
    await stream.aclose()
