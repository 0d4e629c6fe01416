"""The HTTP destination against a real local server: what counts as delivered, and what is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import standardwebhooks
import trio

from olactors.delivery import AttemptFailed, DestinationGone, HttpDestination
from olactors.testing import Canned, FakeProvider

from .support import ITEM

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def app() -> AsyncIterator[FakeProvider]:
    async with trio.open_nursery() as nursery:
        server = FakeProvider(Canned(200, body=b"thanks"))
        await nursery.start(server.serve)
        yield server
        nursery.cancel_scope.cancel()


async def deliver(app: FakeProvider, path: str = "/hooks") -> object:
    destination = HttpDestination(f"{app.url}{path}", SECRET, timeout_s=5)
    try:
        return await destination.deliver(ITEM)
    finally:
        await destination.aclose()


async def test_a_2xx_answer_is_a_delivery_signed_with_standard_webhooks(
    app: FakeProvider,
) -> None:
    delivered = await deliver(app)
    assert delivered.status == 200  # type: ignore[attr-defined]
    assert delivered.response == b"thanks"  # type: ignore[attr-defined]
    [seen] = app.seen("/hooks")
    headers = {k: v for k, v in seen.headers.items() if k.startswith("webhook-")}
    assert standardwebhooks.Webhook(SECRET).verify(seen.body, headers) == {"id": "evt_1"}


async def test_a_redirect_is_a_failed_attempt_and_is_never_followed(app: FakeProvider) -> None:
    app.route("/hooks", Canned(302, headers={"location": "/elsewhere"}))
    with pytest.raises(AttemptFailed) as failed:
        await deliver(app)
    assert (failed.value.outcome, failed.value.status) == ("http_error", 302)
    assert app.seen("/elsewhere") == []


async def test_a_huge_answer_is_read_only_up_to_the_cap_and_its_start_kept(
    app: FakeProvider,
) -> None:
    app.route("/hooks", Canned(200, body=b"x" * (8 * 1024 * 1024)))
    delivered = await deliver(app)
    assert delivered.response == b"x" * 1024  # type: ignore[attr-defined]


async def test_a_410_is_destination_gone_with_the_answer(app: FakeProvider) -> None:
    app.route("/hooks", Canned(410, body=b"endpoint removed"))
    with pytest.raises(DestinationGone) as gone:
        await deliver(app)
    assert gone.value.response == b"endpoint removed"


async def test_a_5xx_keeps_its_retry_after_and_counts_against_the_breaker(
    app: FakeProvider,
) -> None:
    app.route("/hooks", Canned(503, headers={"retry-after": "120"}))
    with pytest.raises(AttemptFailed) as failed:
        await deliver(app)
    assert failed.value.retry_after_s == 120
    assert failed.value.counts_against_breaker


async def test_a_4xx_is_a_failed_attempt_that_does_not_count_against_the_breaker(
    app: FakeProvider,
) -> None:
    app.route("/hooks", Canned(422))
    with pytest.raises(AttemptFailed) as failed:
        await deliver(app)
    assert not failed.value.counts_against_breaker


async def test_no_server_is_a_network_failure(app: FakeProvider) -> None:
    destination = HttpDestination("http://127.0.0.1:9/hooks", SECRET, timeout_s=2)
    with pytest.raises(AttemptFailed) as failed:
        await destination.deliver(ITEM)
    await destination.aclose()
    assert failed.value.outcome == "network"


def test_a_signing_secret_under_24_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="24 bytes"):
        HttpDestination.check_secret("whsec_YXBwLXNlY3JldA==")
