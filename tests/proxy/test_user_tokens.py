"""The proxy calls Google and Instagram with the user's own token, refreshed when refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from olactors.testing import Canned, Seen

from .support import Rig, proxied

FILES = {"kind": "drive#fileList", "files": [{"id": "1", "name": "notes.txt"}]}
MEDIA = json.loads((Path(__file__).parents[1] / "clients/fixtures/media_page_p1.json").read_text())


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with proxied(tmp_path) as rig:
        await rig.daemon.connect(rig.auth)
        yield rig


async def test_a_call_carries_the_user_s_token_and_answers_as_the_provider_did(rig: Rig) -> None:
    rig.google(Canned(200, json=FILES, headers={"link": '<next>; rel="next"', "set-cookie": "s=1"}))
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files?q=name%3D%27x%27", user="42")
    assert (answer.status_code, answer.json()) == (200, FILES)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["olactors-provider"] == "google"
    assert answer.headers["link"] == '<next>; rel="next"'
    assert "set-cookie" not in answer.headers
    (seen,) = rig.api.seen("/drive/v3/files")
    assert seen.headers["authorization"] == f"Bearer {rig.auth.issued[-1]}"
    assert seen.query == "q=name%3D%27x%27"


async def test_a_refused_token_is_refreshed_once_and_the_call_made_again(rig: Rig) -> None:
    rig.google(Canned(200, json=FILES))
    rig.refused.add(rig.auth.issued[-1])  # revoked at the provider, still unexpired here
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="42")
    assert (answer.status_code, answer.json()) == (200, FILES)
    assert rig.auth.refreshes == 1
    first, second = rig.api.seen("/drive/v3/files")
    assert first.headers["authorization"] != second.headers["authorization"]
    assert second.headers["authorization"] == f"Bearer {rig.auth.issued[-1]}"


async def test_twenty_calls_refused_at_once_refresh_the_token_once(rig: Rig) -> None:
    rig.google(Canned(200, json=FILES))
    rig.refused.add(rig.auth.issued[-1])
    statuses = []

    async def call() -> None:
        answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="42")
        statuses.append(answer.status_code)

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(call)
    assert statuses == [200] * 20
    assert rig.auth.refreshes == 1


async def test_a_token_refused_again_after_its_refresh_is_a_provider_auth_failure(
    rig: Rig,
) -> None:
    def never(request: Seen) -> Canned:
        return Canned(401, json={"error": {"code": 401, "status": "UNAUTHENTICATED"}})

    rig.api.route("/drive/v3/files", never)
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="42")
    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "provider_auth_failure"
    assert rig.auth.refreshes == 1
    assert len(rig.api.seen("/drive/v3/files")) == 2


async def test_a_forbidden_call_comes_back_as_the_provider_said_without_a_refresh(
    rig: Rig,
) -> None:
    denied = {"error": {"code": 403, "message": "Insufficient Permission", "status": "FORBIDDEN"}}
    rig.api.route("/drive/v3/files", Canned(403, json=denied))
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="42")
    assert (answer.status_code, answer.json()) == (403, denied)
    assert answer.headers["olactors-provider"] == "google"
    assert rig.auth.refreshes == 0


async def test_a_grant_revoked_at_the_provider_is_a_needs_reauth_conflict(rig: Rig) -> None:
    rig.google(Canned(200, json=FILES))
    rig.refused.add(rig.auth.issued[-1])
    rig.auth.revoked |= rig.auth.refresh_tokens
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="42")
    assert answer.status_code == 409
    assert answer.json()["error"]["type"] == "needs_reauth"
    status = await rig.daemon.call("GET", "/v1/connections/google/42")
    assert status.json()["error"]["type"] == "needs_reauth"


async def test_a_refused_token_with_nothing_to_refresh_it_is_refused_and_stays_connected(
    rig: Rig,
) -> None:
    rig.auth.offline = False
    await rig.daemon.connect(rig.auth, user="7")  # no refresh token came with it
    rig.google(Canned(200, json=FILES))
    rig.refused.add(rig.auth.issued[-1])
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="7")
    assert (answer.status_code, answer.json()["error"]["type"]) == (502, "provider_auth_failure")
    assert (rig.auth.refreshes, len(rig.api.seen("/drive/v3/files"))) == (0, 1)
    status = await rig.daemon.call("GET", "/v1/connections/google/7")
    assert status.json()["status"] == "connected"  # one 401 does not prove the grant gone


async def test_an_instagram_token_too_young_to_refresh_is_not_refreshed_on_a_refusal(
    rig: Rig,
) -> None:
    await rig.daemon.connect(rig.auth, "instagram", user="42")
    expired = {"error": {"message": "Error validating access token", "code": 190}}
    rig.api.route("/v21.0/me/media", Canned(400, json=expired))
    answer = await rig.proxy("GET", "/v1/proxy/instagram/me/media", user="42")
    assert (answer.status_code, answer.json()["error"]["type"]) == (502, "provider_auth_failure")
    assert rig.auth.refreshes == 0  # Instagram refuses to refresh a token under a day old
    status = await rig.daemon.call("GET", "/v1/connections/instagram/42")
    assert status.json()["status"] == "connected"


async def test_a_provider_with_an_unset_api_key_variable_still_takes_user_tokens(
    tmp_path: Path,
) -> None:
    async with proxied(tmp_path, google={"secret_env": "GOOGLE_API_KEY"}) as rig:
        await rig.daemon.connect(rig.auth)
        rig.google(Canned(200, json=FILES))
        answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="42")
    assert (answer.status_code, answer.json()) == (200, FILES)


async def test_a_user_without_a_connection_is_not_found(rig: Rig) -> None:
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files", user="nobody")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"
    assert rig.api.seen("/drive/v3/files") == []


async def test_a_call_for_a_user_s_connection_must_name_the_user(rig: Rig) -> None:
    answer = await rig.proxy("GET", "/v1/proxy/google/drive/v3/files")
    assert answer.status_code == 400
    assert "Olactors-User" in answer.json()["error"]["message"]


async def test_instagram_calls_carry_the_token_as_its_access_token_parameter(rig: Rig) -> None:
    await rig.daemon.connect(rig.auth, "instagram", user="42")
    rig.api.route("/v21.0/me/media", Canned(200, json=MEDIA))
    answer = await rig.proxy("GET", "/v1/proxy/instagram/me/media?fields=id", user="42")
    assert (answer.status_code, answer.json()) == (200, MEDIA)
    (seen,) = rig.api.seen("/v21.0/me/media")
    assert "authorization" not in seen.headers
    token = (await rig.daemon.call("GET", "/v1/connections/instagram/42")).json()["access_token"]
    assert seen.query == f"fields=id&access_token={token}"


async def test_gets_are_cached_per_user_unless_the_app_asks_for_no_cache(rig: Rig) -> None:
    await rig.daemon.connect(rig.auth, user="7")

    def drive(request: Seen) -> Canned:
        mine = rig.auth.issued.index(request.headers["authorization"].removeprefix("Bearer "))
        return Canned(200, json={"token": mine})

    rig.api.route("/drive/v3/files", drive)
    path = "/v1/proxy/google/drive/v3/files"
    first = await rig.proxy("GET", path, user="42")
    again = await rig.proxy("GET", path, user="42")
    other = await rig.proxy("GET", path, user="7")
    fresh = await rig.proxy("GET", path, user="42", headers={"cache-control": "no-cache"})
    assert [a.headers["olactors-cache"] for a in (first, again, other, fresh)] == [
        "miss",
        "hit",
        "miss",
        "miss",
    ]
    assert again.json() == first.json() != other.json()
    assert len(rig.api.seen("/drive/v3/files")) == 3


async def test_one_idempotency_key_for_two_users_is_a_conflict_not_a_replay(rig: Rig) -> None:
    await rig.daemon.connect(rig.auth, user="7")
    rig.api.route("/drive/v3/files", Canned(200, json=FILES))
    key = {"idempotency-key": "upload-1", "content-type": "application/json"}
    path = "/v1/proxy/google/drive/v3/files"
    first = await rig.proxy("POST", path, user="42", headers=key, content=b"{}")
    other = await rig.proxy("POST", path, user="7", headers=key, content=b"{}")
    assert first.status_code == 200
    assert (other.status_code, other.json()["error"]["type"]) == (409, "idempotency_conflict")
    assert len(rig.api.seen("/drive/v3/files")) == 1
