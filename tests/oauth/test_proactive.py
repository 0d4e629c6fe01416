"""Connections nobody asks for are refreshed ahead of expiry, Instagram's from half their life."""

from __future__ import annotations

from pathlib import Path

import trio

from olactors.oauth import Connection, OAuthProvider, due

from .support import authorization_server, run_daemon

DAY = 24 * 3600.0


async def test_an_idle_connection_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    async with authorization_server() as auth, run_daemon(tmp_path, auth, scan_s=0.2) as daemon:
        auth.expires_in = 1
        await daemon.connect(auth)
        with trio.fail_after(10):  # a hang guard: nobody asks, the scan refreshes
            while auth.refreshes == 0:
                await trio.sleep(0.05)
        token = (await daemon.call("GET", "/v1/connections/google/42")).json()
        refresher = daemon.system.actor_snapshot("/root/oauth/refresher").state
    assert token["access_token"] == auth.issued[-1]
    assert auth.refreshes == 1  # the request found it fresh
    assert refresher["refreshed"] == 1


def instagram() -> OAuthProvider:
    return OAuthProvider("instagram", "a", "t", "id", "secret", "r", long_lived=True)


def long_lived(age_s: float, now: float) -> Connection:
    made = now - age_s
    return Connection("instagram", "42", "IGLL", made, made, expires_at=made + 60 * DAY)


def test_a_long_lived_token_is_refreshed_ahead_from_half_its_life() -> None:
    now = 1_800_000_000.0
    assert due(long_lived(31 * DAY, now), instagram(), now, ahead_s=300)
    assert not due(long_lived(29 * DAY, now), instagram(), now, ahead_s=300)


def test_a_long_lived_token_is_not_refreshed_on_request_until_near_its_end() -> None:
    now = 1_800_000_000.0
    assert not due(long_lived(31 * DAY, now), instagram(), now)


def test_a_long_lived_token_younger_than_a_day_is_never_refreshed() -> None:
    now = 1_800_000_000.0
    young = Connection("instagram", "42", "IGLL", now - 3600, now - 3600, expires_at=now + 60)
    assert not due(young, instagram(), now, ahead_s=300)
