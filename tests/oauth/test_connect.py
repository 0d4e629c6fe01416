"""The connect flow against a local authorization server: PKCE, single-use state, the
vault, fresh tokens once however many ask, revocation."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from olactors.oauth import Keyring, VaultError
from olactors.oauth import _refresh as refresh
from olactors.store import STORE_PATH, Store
from olactors.testing import Canned, FakeProvider

from .support import (
    KEYS,
    RETURN,
    AuthorizationServer,
    Daemon,
    authorization_server,
    query_of,
    run_daemon,
)


@pytest.fixture
async def auth() -> AsyncIterator[AuthorizationServer]:
    async with authorization_server() as server:
        yield server


@pytest.fixture
async def daemon(tmp_path: Path, auth: AuthorizationServer) -> AsyncIterator[Daemon]:
    async with run_daemon(tmp_path, auth) as running:
        yield running


async def connected_and_due(daemon: Daemon, auth: AuthorizationServer) -> None:
    """User 42 connected, with a token already due for a refresh."""
    auth.expires_in = 1  # due (within half its life) half a second after it is issued
    await daemon.connect(auth)
    await trio.sleep(0.6)


async def test_the_authorization_url_asks_for_pkce_s256_and_offline_access(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    query = query_of(await daemon.authorize())
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert (query["access_type"], query["prompt"]) == ("offline", "consent")
    assert query["redirect_uri"] == "https://hooks.example.com/oauth/google/callback"
    assert query["scope"] == "openid email"  # the preset's
    assert query["client_id"] == "client-123.apps.example"


async def test_a_connected_user_s_token_reaches_the_app(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    back = await daemon.connect(auth)
    assert back.startswith(RETURN)
    assert query_of(back) == {"provider": "google", "user": "42", "connection": "connected"}
    token = (await daemon.call("GET", "/v1/connections/google/42")).json()
    assert token["access_token"] == auth.issued[-1]
    assert token["status"] == "connected"
    assert token["scopes"] == ["openid", "email"]


async def test_a_state_used_once_is_refused_the_second_time(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    approval = auth.approve(await daemon.authorize())
    assert (await daemon.callback("google", approval)).status_code == 303
    again = await daemon.callback("google", approval)
    assert again.status_code == 400
    assert "expired or was already used" in again.text


async def test_a_denied_consent_goes_back_to_the_app_with_the_error(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    state = query_of(await daemon.authorize())["state"]
    back = await daemon.callback("google", {"error": "access_denied", "state": state})
    assert back.status_code == 303
    assert query_of(back.headers["location"])["error"] == "access_denied"
    assert (await daemon.call("GET", "/v1/connections/google/42")).status_code == 404


async def test_a_provider_refusing_the_code_goes_back_with_its_error(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    approval = auth.approve(await daemon.authorize())
    auth.codes.clear()  # the code expired at the provider
    back = await daemon.callback("google", approval)
    assert query_of(back.headers["location"])["error"] == "invalid_grant"


async def test_tokens_are_sealed_in_the_store_under_the_newest_key(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    await daemon.connect(auth)
    store = Store.at(daemon.system, STORE_PATH)
    sealed = await store.get("oauth:conn:google:42")
    assert sealed is not None
    assert auth.issued[-1].encode() not in sealed
    keys = Keyring.parse(KEYS, "test")
    assert keys.key_of(sealed) == "k2"
    assert auth.issued[-1].encode() in keys.open(sealed, "oauth:conn:google:42")
    with pytest.raises(VaultError):
        keys.open(sealed, "oauth:conn:google:7")  # bound to its own key


async def test_a_token_due_is_refreshed_once_for_a_hundred_callers(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    await connected_and_due(daemon, auth)
    answers = []

    async def ask() -> None:
        answers.append((await daemon.call("GET", "/v1/connections/google/42")).json())

    async with trio.open_nursery() as nursery:
        for _ in range(100):
            nursery.start_soon(ask)
    assert auth.refreshes == 1
    assert {a["access_token"] for a in answers} == {auth.issued[-1]}


async def test_a_rotated_refresh_token_replaces_the_old_one(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    auth.expires_in, auth.rotate = 1, True
    await daemon.connect(auth)
    [first] = auth.refresh_tokens
    await trio.sleep(0.6)
    assert (await daemon.call("GET", "/v1/connections/google/42")).status_code == 200
    assert first not in auth.refresh_tokens  # the provider rotated it, and we kept the new one
    sealed = await Store.at(daemon.system, STORE_PATH).get("oauth:conn:google:42")
    assert sealed is not None
    record = Keyring.parse(KEYS, "test").open(sealed, "oauth:conn:google:42")
    assert first.encode() not in record
    assert any(token.encode() in record for token in auth.refresh_tokens)


async def test_a_revoked_grant_marks_the_connection_for_reauthorization(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    auth.expires_in = 1
    await daemon.connect(auth)
    auth.revoked |= auth.refresh_tokens
    await trio.sleep(0.6)
    refused = await daemon.call("GET", "/v1/connections/google/42")
    assert refused.status_code == 409
    assert refused.json()["error"]["type"] == "needs_reauth"
    assert (await daemon.call("GET", "/v1/connections/google/42")).status_code == 409


BUSY = Canned(503, json={"error": "temporarily_unavailable"})


async def test_a_refresh_the_provider_did_not_answer_is_tried_again_within_the_call(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    await connected_and_due(daemon, auth)
    auth.server.script("/token", BUSY, BUSY)
    answer = await daemon.call("GET", "/v1/connections/google/42")
    assert (answer.status_code, answer.json()["access_token"]) == (200, auth.issued[-1])
    assert len(auth.server.seen("/token")) == 1 + 3  # the code, then three refresh attempts


async def test_a_refresh_that_keeps_failing_is_a_503_and_leaves_the_connection_connected(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    await connected_and_due(daemon, auth)
    auth.server.script("/token", BUSY, BUSY, BUSY)
    busy = await daemon.call("GET", "/v1/connections/google/42")
    assert (busy.status_code, busy.json()["error"]["type"]) == (503, "unavailable")
    later = await daemon.call("GET", "/v1/connections/google/42")
    assert (later.status_code, later.json()["status"]) == (200, "connected")


async def test_a_refresh_gives_up_at_its_deadline_inside_the_lock_s_lifetime(
    daemon: Daemon, auth: AuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refresh, "REFRESH_DEADLINE_S", 0.3)
    await connected_and_due(daemon, auth)
    auth.server.script("/token", Canned(200, json={"access_token": "late"}, delay_s=5))
    busy = await daemon.call("GET", "/v1/connections/google/42")
    assert (busy.status_code, busy.json()["error"]["type"]) == (503, "unavailable")
    assert "deadline" in busy.json()["error"]["message"]


async def test_disconnecting_revokes_at_the_provider_and_forgets(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    await daemon.connect(auth)
    [refresh] = auth.refresh_tokens
    gone = await daemon.call("DELETE", "/v1/connections/google/42")
    assert gone.json() == {"provider": "google", "user": "42", "deleted": True, "revoked": True}
    assert refresh in auth.revoked
    assert (await daemon.call("GET", "/v1/connections/google/42")).status_code == 404


async def test_instagram_s_short_token_is_exchanged_for_the_sixty_day_one(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    await daemon.connect(auth, provider="instagram")
    token = (await daemon.call("GET", "/v1/connections/instagram/42")).json()
    assert token["access_token"].startswith("IGLL")
    assert len(auth.server.seen("/access_token")) == 1


def test_a_vault_key_that_is_not_32_bytes_is_refused() -> None:
    from olactors.config import ConfigError

    with pytest.raises(ConfigError, match="not 32 bytes"):
        Keyring.parse("k1:" + base64.b64encode(b"short").decode(), "OLACTORS_OAUTH_KEYS")


async def test_rekey_seals_every_connection_under_the_newest_key(
    tmp_path: Path, auth: AuthorizationServer
) -> None:
    old_only = "k1:" + base64.b64encode(b"\x01" * 32).decode()
    async with run_daemon(tmp_path, auth, keys=old_only) as daemon:
        await daemon.connect(auth, user="42")
        await daemon.connect(auth, user="7")
    async with run_daemon(tmp_path, auth) as daemon:  # k2 first now, k1 still there
        store = Store.at(daemon.system, STORE_PATH)
        report = await daemon.admin("POST", "/connections/rekey")
        sealed = await store.get("oauth:conn:google:42")
        token = (await daemon.call("GET", "/v1/connections/google/7")).json()
    assert report == {"resealed": 2, "current": 0, "failed": 0, "key": "k2"}
    assert sealed is not None
    assert Keyring.parse(KEYS, "test").key_of(sealed) == "k2"
    assert token["status"] == "connected"


async def test_a_revoked_grant_tells_the_app_with_a_needs_reauth_event(
    daemon: Daemon, auth: AuthorizationServer
) -> None:
    app = FakeProvider(Canned(200, json={"ok": True}))
    async with trio.open_nursery() as nursery:
        await nursery.start(app.serve)
        registered = await daemon.call(
            "POST",
            "/v1/endpoints",
            {"url": f"{app.url}/hooks", "event_types": ["connection.needs_reauth"]},
        )
        assert registered.status_code == 201, registered.text
        auth.expires_in = 1
        await daemon.connect(auth)
        auth.revoked |= auth.refresh_tokens
        await trio.sleep(0.6)
        assert (await daemon.call("GET", "/v1/connections/google/42")).status_code == 409
        with trio.fail_after(10):  # a hang guard
            while not app.seen("/hooks"):
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
    [told] = app.seen("/hooks")
    event = told.json()
    assert (event["event"], event["data"]) == (
        "connection.needs_reauth",
        {"provider": "google", "user": "42"},
    )
