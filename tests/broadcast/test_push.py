"""The push channel against local servers that behave like FCM (and Google's token
endpoint) and Expo, including their errors; devices registered through the API."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from olactors import metrics
from olactors.testing import Canned, FakeProvider, Seen

from .support import FAST, Daemon, broadcast, call, run_daemon, settled

PROJECT = "shop-1234"
SEND = f"/v1/projects/{PROJECT}/messages:send"
EXPO_SEND = "/--/api/v2/push/send"
EXPO_RECEIPTS = "/--/api/v2/push/getReceipts"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

UNREGISTERED = Canned(
    404,
    json={
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "UNREGISTERED",
                }
            ],
        }
    },
)


def fcm_answer(request: Seen) -> Canned:
    """FCM: the token "dead" is unregistered, "flaky-*" get a 503 (scripted), others go."""
    token = request.json()["message"]["token"]
    if token == "dead":
        return UNREGISTERED
    return Canned(200, json={"name": f"projects/{PROJECT}/messages/{token}"})


def token_answer(request: Seen) -> Canned:
    return Canned(
        200, json={"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"}
    )


def expo_answer(request: Seen) -> Canned:
    tickets = []
    for message in request.json():
        if message["to"] == "ExponentPushToken[dead]":
            tickets.append(
                {
                    "status": "error",
                    "message": "not a registered push notification recipient",
                    "details": {"error": "DeviceNotRegistered"},
                }
            )
        else:
            tickets.append({"status": "ok", "id": f"ticket-{message['to'][18:-1]}"})
    return Canned(200, json={"data": tickets})


@asynccontextmanager
async def pushing(tmp_path: Path, google: FakeProvider, **settings: Any) -> AsyncIterator[Daemon]:
    account = tmp_path / "service-account.json"
    pem = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "push@shop-1234.iam.gserviceaccount.com",
                "token_uri": f"{google.url}/token",
            }
        )
    )
    google.route("/token", token_answer)
    google.route(SEND, fcm_answer)
    google.route(EXPO_SEND, expo_answer)
    providers = {"fcm": {"base_url": google.url}, "expo": {"base_url": google.url}}
    async with run_daemon(
        tmp_path,
        providers=providers,
        fcm_credentials_file=str(account),
        expo=True,
        **(FAST | settings),
    ) as daemon:
        yield daemon


@pytest.fixture
async def google() -> AsyncIterator[FakeProvider]:
    """One local server for Google's token endpoint, FCM and Expo (by path)."""
    server = FakeProvider()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        yield server
        nursery.cancel_scope.cancel()


async def register(daemon: Daemon, user: str, platform: str, token: str) -> dict[str, Any]:
    answer = await call(
        daemon, "POST", f"/v1/users/{user}/devices", {"platform": platform, "token": token}
    )
    assert answer.status_code == 201, answer.text
    device: dict[str, Any] = answer.json()
    return device


async def test_a_push_goes_to_each_device_as_title_body_and_data(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        await register(daemon, "42", "fcm", "fcm-token-1")
        await register(daemon, "42", "expo", "ExponentPushToken[abc]")
        bid = await broadcast(
            daemon, {"channel": "push", "user": "42"}, payload={"title": "Shipped", "order": 7}
        )
        result = await settled(daemon, bid)
    assert result["successful"] == 1
    [fcm] = google.seen(SEND)
    message = fcm.json()["message"]
    assert message["token"] == "fcm-token-1"
    assert message["notification"] == {"title": "Shipped", "body": ""}
    assert message["data"] == {"title": "Shipped", "order": "7"}  # FCM data values are strings
    assert fcm.headers["authorization"] == "Bearer ya29.test"
    [expo] = google.seen(EXPO_SEND)
    assert expo.json() == [
        {
            "to": "ExponentPushToken[abc]",
            "title": "Shipped",
            "body": "",
            "data": {"title": "Shipped", "order": 7},
        }
    ]


async def test_the_fcm_token_is_a_jwt_signed_with_the_service_accounts_key(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        await register(daemon, "42", "fcm", "fcm-token-1")
        await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
        await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
    [minted] = google.seen("/token")  # cached for the second push
    form = dict(part.split("=", 1) for part in minted.body.decode().split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    decoded = json.loads(_unb64(claims))
    assert decoded["iss"] == "push@shop-1234.iam.gserviceaccount.com"
    assert decoded["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert decoded["aud"] == f"{google.url}/token"
    assert decoded["exp"] - decoded["iat"] == 3600
    KEY.public_key().verify(
        _unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


async def test_a_token_fcm_calls_unregistered_is_removed_and_counted(
    tmp_path: Path, google: FakeProvider
) -> None:
    before = metrics.PUSH_TOKENS_REMOVED.labels("fcm")._value.get()
    async with pushing(tmp_path, google) as daemon:
        await register(daemon, "42", "fcm", "dead")
        await register(daemon, "42", "fcm", "alive")
        result = await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
        left = (await call(daemon, "GET", "/v1/users/42/devices")).json()["items"]
    assert result["successful"] == 1
    assert [d["token"] for d in left] == ["alive"]
    assert metrics.PUSH_TOKENS_REMOVED.labels("fcm")._value.get() == before + 1


async def test_an_expo_device_not_registered_ticket_removes_the_token(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        await register(daemon, "42", "expo", "ExponentPushToken[dead]")
        result = await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
        left = (await call(daemon, "GET", "/v1/users/42/devices")).json()["items"]
    assert result["failed"] == 1
    error = result["details"][0]["last_error"]
    assert "DeviceNotRegistered" in error
    assert "ExponentPushToken" not in error  # Expo's own message names the token
    assert left == []


async def test_expo_receipts_are_checked_later_and_a_gone_device_is_removed(
    tmp_path: Path, google: FakeProvider
) -> None:
    google.route(
        EXPO_RECEIPTS,
        Canned(
            200,
            json={
                "data": {
                    "ticket-abc": {
                        "status": "error",
                        "message": "gone",
                        "details": {"error": "DeviceNotRegistered"},
                    }
                }
            },
        ),
    )
    async with pushing(tmp_path, google, expo_receipt_delay_s=0) as daemon:
        await register(daemon, "42", "expo", "ExponentPushToken[abc]")
        await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
        with trio.fail_after(10):  # a hang guard
            while (await call(daemon, "GET", "/v1/users/42/devices")).json()["items"]:
                await trio.sleep(0.02)
    [asked] = google.seen(EXPO_RECEIPTS)
    assert asked.json() == {"ids": ["ticket-abc"]}


async def test_a_retry_after_a_partial_failure_sends_only_to_the_devices_left(
    tmp_path: Path, google: FakeProvider
) -> None:
    google.script(SEND, Canned(200, json={"name": "m1"}), Canned(503, json={"error": {}}))
    async with pushing(tmp_path, google) as daemon:
        await register(daemon, "42", "fcm", "phone")
        await register(daemon, "42", "fcm", "tablet")
        result = await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
    assert result["successful"] == 1
    first, failed, again = [r.json()["message"]["token"] for r in google.seen(SEND)]
    assert {first, failed} == {"phone", "tablet"}
    assert again == failed  # the retry went to the device left, not to both


async def test_a_user_without_devices_fails_the_target(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        result = await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "7"}))
    assert result["failed"] == 1
    assert "no registered devices" in result["details"][0]["last_error"]


async def test_a_token_that_is_not_expos_is_refused_for_expo(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        answer = await call(
            daemon, "POST", "/v1/users/42/devices", {"platform": "expo", "token": "fcm-like"}
        )
    assert answer.status_code == 422


async def test_a_push_target_is_refused_while_push_is_not_configured(tmp_path: Path) -> None:
    async with run_daemon(tmp_path) as daemon:
        body = {
            "event": {"type": "t", "payload": {}},
            "targets": [{"channel": "push", "user": "1"}],
        }
        answer = await call(daemon, "POST", "/v1/broadcasts", body)
    assert answer.status_code == 422


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def test_a_404_without_unregistered_keeps_every_token(
    tmp_path: Path, google: FakeProvider
) -> None:
    # A wrong project id or URL: no device is to blame.
    async with pushing(tmp_path, google) as daemon:
        google.route(SEND, Canned(404, json={"error": {"code": 404, "status": "NOT_FOUND"}}))
        await register(daemon, "42", "fcm", "phone")
        result = await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
        left = (await call(daemon, "GET", "/v1/users/42/devices")).json()["items"]
    assert result["failed"] == 1
    assert len(google.seen(SEND)) == 3  # retried on the schedule, then failed
    assert [d["token"] for d in left] == ["phone"]


async def test_a_token_endpoint_refusal_is_retried_and_keeps_every_token(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        google.route("/token", Canned(400, json={"error": "invalid_grant"}))
        await register(daemon, "42", "fcm", "phone")
        result = await settled(daemon, await broadcast(daemon, {"channel": "push", "user": "42"}))
        left = (await call(daemon, "GET", "/v1/users/42/devices")).json()["items"]
    assert result["failed"] == 1
    assert "token endpoint answered 400" in result["details"][0]["last_error"]
    assert google.seen(SEND) == []
    assert [d["token"] for d in left] == ["phone"]


async def test_a_token_registered_by_another_user_is_theirs_alone(
    tmp_path: Path, google: FakeProvider
) -> None:
    async with pushing(tmp_path, google) as daemon:
        await register(daemon, "alice", "fcm", "shared-phone")
        await register(daemon, "bob", "fcm", "shared-phone")
        alice = (await call(daemon, "GET", "/v1/users/alice/devices")).json()["items"]
        bob = (await call(daemon, "GET", "/v1/users/bob/devices")).json()["items"]
    assert alice == []
    assert [d["token"] for d in bob] == ["shared-phone"]
