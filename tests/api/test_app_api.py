"""The app API over real HTTP: keys, one error shape, idempotency, request ids, its document."""

from __future__ import annotations

import contextlib
import logging
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from olactors.api import KEY_FILE
from olactors.broadcast import InvalidToken, SubscriberTokens
from olactors.config import Config, ConfigError
from olactors.runtime import ActorSystem
from olactors.tree import build_tree

KEYS = ["app-key-old-0123456789abcdef", "app-key-new-0123456789abcdef"]
TOKEN_KEY = "subscriber-key-0123456789abcdef0123456789"
ENV = {"OLACTORS_API_KEYS": ",".join(KEYS), "OLACTORS_SUBSCRIBER_KEY": TOKEN_KEY}


def settings(tmp_path: Path, **api: object) -> Config:
    return Config.model_validate(
        {
            "store": {"sqlite_path": str(tmp_path / "o.db")},
            "daemon": {"state_dir": str(tmp_path / "state")},
            "server": {"public_bind": "127.0.0.1:0"},
            "admin": {"bind": "127.0.0.1:0"},
            "api": {"bind": "127.0.0.1:0", **api},
        }
    )


@dataclass
class Api:
    url: str
    system: ActorSystem

    async def call(
        self, method: str, path: str, *, key: str | None = KEYS[1], **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        async with httpx.AsyncClient(base_url=self.url) as client:
            return await client.request(method, path, headers=headers, **kwargs)


async def running(config: Config, env: dict[str, str]) -> AsyncIterator[Api]:
    system = ActorSystem(build_tree(config, env))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        url = system.actor_snapshot("/root/http/api").state["addresses"][0]
        yield Api(url, system)
        system.shutdown()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for running_api in running(settings(tmp_path), ENV):
        yield running_api


TOKENS = "/v1/subscribers/u42/tokens"


def assert_error(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    error: dict[str, Any] = answer.json()["error"]
    assert error["type"] == kind
    assert error["message"]
    return error


async def test_a_call_without_a_key_is_a_401_in_the_error_shape(api: Api) -> None:
    assert_error(
        await api.call("POST", TOKENS, key=None, json={"topics": ["t"]}), 401, "unauthorized"
    )
    assert_error(
        await api.call("POST", TOKENS, key="not-one-of-ours-0123456789", json={"topics": ["t"]}),
        401,
        "unauthorized",
    )


async def test_the_old_and_the_new_key_both_work_during_a_rotation(api: Api) -> None:
    for key in KEYS:
        answer = await api.call("POST", TOKENS, key=key, json={"topics": ["user:42"]})
        assert answer.status_code == 201, answer.text


async def test_a_minted_token_verifies_with_its_topics_and_expiry(api: Api) -> None:
    answer = await api.call("POST", TOKENS, json={"topics": ["user:42", "news"], "ttl_s": 60})
    body = answer.json()
    assert body["expires_at"].endswith("Z")
    claims = SubscriberTokens(TOKEN_KEY.encode(), time.time).verify(body["token"])
    assert (claims.user, claims.topics) == ("u42", ["user:42", "news"])


def test_a_token_altered_or_expired_is_refused() -> None:
    now = [1000.0]
    tokens = SubscriberTokens(TOKEN_KEY.encode(), lambda: now[0])
    token, _ = tokens.mint("u1", ["a"], ttl_s=60)
    with pytest.raises(InvalidToken, match="signature"):
        tokens.verify(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])
    other = SubscriberTokens(b"another-key-0123456789abcdef0123456789", lambda: now[0])
    with pytest.raises(InvalidToken, match="signature"):
        other.verify(token)
    now[0] += 61
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


async def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    assert_error(await api.call("POST", TOKENS, content=b"{nope"), 400, "invalid_request")


async def test_json_of_the_wrong_shape_is_a_422_that_says_where(api: Api) -> None:
    error = assert_error(
        await api.call("POST", TOKENS, json={"topics": ["ok", "not a topic!"]}),
        422,
        "validation_error",
    )
    assert error["details"][0]["at"] == "$.topics[1]"
    error = assert_error(
        await api.call("POST", TOKENS, json={"topics": []}), 422, "validation_error"
    )
    assert error["details"][0]["at"] == "$.topics"


async def test_a_token_longer_than_the_configured_maximum_is_a_422(tmp_path: Path) -> None:
    async for api in running(settings(tmp_path), ENV):
        answer = await api.call("POST", TOKENS, json={"topics": ["a"], "ttl_s": 90_000})
        error = assert_error(answer, 422, "validation_error")
        assert error["details"][0]["at"] == "$.ttl_s"


async def test_an_unknown_path_and_a_wrong_method_answer_in_the_error_shape(api: Api) -> None:
    assert_error(await api.call("GET", "/v1/nothing-here"), 404, "not_found")
    wrong = await api.call("GET", TOKENS)
    assert_error(wrong, 405, "method_not_allowed")
    assert "POST" in wrong.headers["allow"]


async def test_a_body_over_the_limit_is_a_413(tmp_path: Path) -> None:
    async for api in running(settings(tmp_path, max_body_bytes=64), ENV):
        big = {"topics": ["a" * 100]}
        assert_error(await api.call("POST", TOKENS, json=big), 413, "payload_too_large")


async def test_the_same_idempotency_key_and_body_get_the_first_answer_again(api: Api) -> None:
    headers = {"Idempotency-Key": "mint-1"}
    first = await api.call("POST", TOKENS, json={"topics": ["a"]}, headers=headers)
    again = await api.call("POST", TOKENS, json={"topics": ["a"]}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same token, not a second one
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_the_same_idempotency_key_with_another_body_is_a_409(api: Api) -> None:
    headers = {"Idempotency-Key": "mint-2"}
    await api.call("POST", TOKENS, json={"topics": ["a"]}, headers=headers)
    answer = await api.call("POST", TOKENS, json={"topics": ["b"]}, headers=headers)
    assert_error(answer, 409, "idempotency_conflict")


async def test_idempotency_keys_of_two_api_keys_do_not_meet(api: Api) -> None:
    headers = {"Idempotency-Key": "shared-name"}
    first = await api.call("POST", TOKENS, key=KEYS[0], json={"topics": ["a"]}, headers=headers)
    other = await api.call("POST", TOKENS, key=KEYS[1], json={"topics": ["b"]}, headers=headers)
    assert (first.status_code, other.status_code) == (201, 201)


async def test_a_request_refused_for_its_shape_does_not_spend_its_idempotency_key(
    api: Api,
) -> None:
    headers = {"Idempotency-Key": "mint-3"}
    refused = await api.call("POST", TOKENS, json={"topics": []}, headers=headers)
    assert refused.status_code == 422
    corrected = await api.call("POST", TOKENS, json={"topics": ["a"]}, headers=headers)
    assert corrected.status_code == 201
    assert "idempotent-replayed" not in corrected.headers


async def test_each_answer_carries_a_request_id_and_the_callers_is_kept(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="olactors.api")
    given = await api.call("POST", TOKENS, json={"topics": ["a"]}, headers={"X-Request-Id": "r-1"})
    assert given.headers["x-request-id"] == "r-1"
    made = await api.call("POST", TOKENS, json={"topics": ["a"]})
    assert made.headers["x-request-id"].startswith("req_")
    logged = {getattr(record, "request_id", None) for record in caplog.records}
    assert {"r-1", made.headers["x-request-id"]} <= logged


async def test_the_openapi_document_is_served_without_a_key(api: Api) -> None:
    answer = await api.call("GET", "/v1/openapi.json", key=None)
    document = answer.json()
    assert document["openapi"] == "3.1.0"
    operation = document["paths"]["/v1/subscribers/{user}/tokens"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TokenRequest"}
    schema = document["components"]["schemas"]["TokenRequest"]
    assert schema["properties"]["topics"]["minItems"] == 1
    assert "422" in operation["responses"]


async def test_without_keys_one_is_generated_into_a_private_file_and_its_place_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"OLACTORS_SUBSCRIBER_KEY": TOKEN_KEY}
    async for api in running(settings(tmp_path), env):
        path = tmp_path / "state" / KEY_FILE
        key = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert str(path) in caplog.text
        assert key not in caplog.text
        answer = await api.call("POST", TOKENS, key=key, json={"topics": ["a"]})
        assert answer.status_code == 201


def test_an_api_beyond_loopback_without_keys_is_refused_at_start(tmp_path: Path) -> None:
    config = settings(tmp_path, bind="0.0.0.0:0")
    with pytest.raises(ConfigError, match="refusing to expose the app API without a key"):
        build_tree(config, {"OLACTORS_SUBSCRIBER_KEY": TOKEN_KEY})


async def test_a_user_the_path_cannot_hold_is_a_422_naming_the_path(api: Api) -> None:
    answer = await api.call("POST", "/v1/subscribers/no%20spaces/tokens", json={"topics": ["a"]})
    error = assert_error(answer, 422, "validation_error")
    assert error["details"][0]["at"] == "path: user"


async def test_the_document_states_the_configured_token_lifetime_limit(api: Api) -> None:
    document = (await api.call("GET", "/v1/openapi.json", key=None)).json()
    ttl = document["components"]["schemas"]["TokenRequest"]["properties"]["ttl_s"]
    assert ttl["maximum"] == Config().broadcast.max_token_ttl_s


async def test_an_error_answered_while_the_body_still_arrives_does_not_wedge_the_connection(
    api: Api,
) -> None:
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    body = b'{"topics": ["a"]}'

    def request(method: str) -> bytes:
        return (
            f"{method} {TOKENS} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEYS[1]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()

    async with await trio.open_tcp_stream(host, int(port)) as stream:
        await stream.send_all(request("TRACE"))
        await trio.sleep(0.3)  # the body comes in a later segment, as a slow client's does
        await stream.send_all(body)
        first = b""
        with trio.fail_after(10):
            while b'"details":[]}}' not in first:
                first += await stream.receive_some()
        # The next request on that connection is answered, or the connection
        # is closed: never left waiting (the wedge answered neither).
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(request("POST") + body)
        with trio.fail_after(10):
            after = await stream.receive_some()
    assert first.startswith(b"HTTP/1.1 405")
    assert after == b"" or after.startswith(b"HTTP/1.1 201")
